using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace MlTraces.Core.Locations
{
    /// <summary>An object under a location: its key relative to the location's root, when it last changed, its size.</summary>
    public sealed class ObjectEntry
    {
        public ObjectEntry(string key, DateTimeOffset lastModified, long size) { Key = key; LastModified = lastModified; Size = size; }
        public string Key { get; }
        public DateTimeOffset LastModified { get; }
        public long Size { get; }
        public override string ToString() => Key;
    }

    /// <summary>A key a bulk delete could not remove, and why (the message never holds a secret).</summary>
    public sealed class DeleteFailure
    {
        /// <param name="sent">False when the request was never sent (its server had already failed to answer another).</param>
        public DeleteFailure(string key, MlTracesException error, bool sent = true) { Key = key; Error = error; OutcomeUnknown = sent && IsUnanswered(error); }
        public string Key { get; }
        public MlTracesException Error { get; }
        /// <summary>The delete went out and no answer came (a server killed or hung after taking it): the object may
        /// be gone or not, and no client can tell until the server answers again.</summary>
        public bool OutcomeUnknown { get; }

        /// <summary>An error that means a request went unanswered, even after its retries.</summary>
        public static bool IsUnanswered(MlTracesException error) => error.ErrorId == "ObjectStoreUnreachable";
    }

    /// <summary>
    /// A root URI where MLflow keeps payloads or artifacts (a local folder, an S3 prefix, an Azure Blob prefix).
    /// Keys are relative to the root, '/'-separated, each part one plain name (<see cref="ObjectKeys.Problem"/>):
    /// a key that breaks that rule is refused before any request. Every error is an MlTracesException whose message
    /// names the location and never a secret.
    /// </summary>
    public interface IObjectLocation
    {
        LocationUri Root { get; }
        /// <summary>The object's bytes; ObjectMissing (NotFound) when there is none.</summary>
        byte[] Read(string key, CancellationToken cancel = default);
        /// <summary>Writes the object so a reader sees the old one or the new one, never part of it.</summary>
        void Write(string key, byte[] data, CancellationToken cancel = default);
        /// <summary><see cref="Write"/> without holding a thread while the request is out.</summary>
        Task WriteAsync(string key, byte[] data, CancellationToken cancel = default);
        bool Exists(string key, CancellationToken cancel = default);
        /// <summary>Removes the object; false when there was none.</summary>
        bool Delete(string key, CancellationToken cancel = default);
        /// <summary>Removes many objects, batched and in bounded parallel; the keys that could not be removed (an
        /// absent key counts as removed).</summary>
        IReadOnlyList<DeleteFailure> DeleteMany(IReadOnlyList<string> keys, CancellationToken cancel = default);
        /// <summary>The objects whose keys start with <paramref name="prefix"/>/ (everything when it is empty), streamed.</summary>
        IEnumerable<ObjectEntry> List(string prefix, CancellationToken cancel = default);
    }
}
