using System;

namespace MlTraces.Core
{
    /// <summary>What went wrong, so the cmdlet layer can pick a stable error id and category without parsing text.</summary>
    public enum ErrorKind
    {
        InvalidArgument,
        NotFound,
        AlreadyExists,
        StoreNotFound,
        NotSqlite,
        NotMlflowStore,
        StoreLocked,
        StoreReadOnly,
        UnsupportedStore,
        InvalidData,
        /// <summary>A file or folder could not be read.</summary>
        IOError,
        /// <summary>A file, folder or payload could not be written or removed.</summary>
        WriteFailed,
        /// <summary>A database server refused the login.</summary>
        AuthenticationFailed,
        /// <summary>A database server cannot be reached or is not accepting connections.</summary>
        StoreUnavailable,
        /// <summary>The disk lacks the free space the work needs (a VACUUM's copy of the store).</summary>
        InsufficientDiskSpace,
    }

    /// <summary>An error MlTraces reports to the user. <see cref="ErrorId"/> is stable and tested.</summary>
    public class MlTracesException : Exception
    {
        public ErrorKind Kind { get; }
        public string ErrorId { get; }

        /// <summary>No message is longer than this, whatever it echoes.</summary>
        public const int MaxMessageLength = 4000;

        public MlTracesException(ErrorKind kind, string errorId, string message, Exception? inner = null)
            : base(UserText.Bound(message, MaxMessageLength), inner)
        {
            Kind = kind; ErrorId = errorId;
        }
    }

    /// <summary>MLflow's INVALID_PARAMETER_VALUE: the message is MLflow's own text, so scripts and people who
    /// know MLflow recognise it.</summary>
    public sealed class InvalidParameterException : MlTracesException
    {
        /// <summary>MLflow's messages are a line; what makes one longer is echoed input.</summary>
        public InvalidParameterException(string message, string errorId = "InvalidParameterValue")
            : base(ErrorKind.InvalidArgument, errorId, UserText.Bound(message, 1000)) { }
    }
}
