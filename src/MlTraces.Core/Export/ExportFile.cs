using System;
using System.IO;
using System.Text;

namespace MlTraces.Core.Export
{
    /// <summary>
    /// The file an export writes, replaced in one step: traces go to a temporary file beside the target (a copy of it
    /// for -Append), which is renamed over the target only when every trace is written. Until then the old file is
    /// untouched, and a stop or failure removes the temporary file and nothing else. A target that is a SQLite
    /// database, or the store the traces come from, is refused: an export is never written over a store.
    /// Conventions are Export-Csv's: -NoClobber refuses an existing file (but -Append adds to it), -Force writes a
    /// read-only file (and leaves it read-only).
    /// </summary>
    public sealed class ExportFile : IDisposable
    {
        private static readonly byte[] SqliteMagic = Encoding.ASCII.GetBytes("SQLite format 3\0");

        public string Path { get; }
        private readonly string _temp;
        private readonly bool _readOnly;
        private StreamWriter? _writer;
        private bool _committed;

        public TextWriter Writer => _writer ?? throw new ObjectDisposedException(nameof(ExportFile));

        private ExportFile(string path, string temp, bool readOnly, StreamWriter writer)
        {
            Path = path; _temp = temp; _readOnly = readOnly; _writer = writer;
        }

        /// <summary>Why the target cannot be written with these switches, or null: the checks the real run makes
        /// first, so that -WhatIf tells the truth.</summary>
        public static MlTracesException? Problem(string path, bool append, bool noClobber, bool force)
        {
            if (Directory.Exists(path))
                return new MlTracesException(ErrorKind.InvalidArgument, "TargetIsFolder", $"'{path}' is a folder; name the file to write.");
            if (!File.Exists(path)) return null;
            if (IsSqliteDatabase(path))
                return new MlTracesException(ErrorKind.InvalidArgument, "TargetIsDatabase",
                    $"'{path}' is a SQLite database (an MLflow store?); Export-Trace never writes over one. Name a new .jsonl file.");
            if (noClobber && !append)
                return new MlTracesException(ErrorKind.AlreadyExists, "FileExists", $"The file '{path}' already exists and -NoClobber was given.");
            if (!force && (File.GetAttributes(path) & FileAttributes.ReadOnly) != 0)
                return new MlTracesException(ErrorKind.StoreReadOnly, "FileReadOnly",
                    $"The file '{path}' is read-only; use -Force to replace it (or add to it with -Append) anyway.");
            return null;
        }

        /// <summary>Checks the target (<see cref="Problem"/>) and opens the temporary file beside it.</summary>
        public static ExportFile Open(string path, bool append, bool noClobber, bool force)
        {
            var problem = Problem(path, append, noClobber, force);
            if (problem != null) throw problem;
            string folder = System.IO.Path.GetDirectoryName(path) ?? ".";
            string temp = System.IO.Path.Combine(folder, "." + System.IO.Path.GetFileName(path) + ".mltraces-" + Guid.NewGuid().ToString("N").Substring(0, 12) + ".tmp");
            bool exists = File.Exists(path), readOnly = exists && (File.GetAttributes(path) & FileAttributes.ReadOnly) != 0;
            try
            {
                if (exists)
                {
                    // A copy keeps the file's permissions (an export holds what the store holds) and, for -Append,
                    // its content; the copy is what is written, the original stays as it is until the rename.
                    File.Copy(path, temp, overwrite: false);
                    if (readOnly) File.SetAttributes(temp, File.GetAttributes(temp) & ~FileAttributes.ReadOnly);
                }
                var stream = new FileStream(temp, exists ? (append ? FileMode.Append : FileMode.Truncate) : FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                return new ExportFile(path, temp, readOnly, new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" });
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                TryDelete(temp);
                throw CannotWrite(path, ex);
            }
        }

        /// <summary>Refuses to go on when the traces come from the file being written (or its journal).</summary>
        public void RefuseStore(string? storeFile)
        {
            if (storeFile == null) return;
            // Real paths: a link to the store, or the store spelled with "..", is the store.
            string store = Store.ConfinedPath.RealPath(System.IO.Path.GetFullPath(storeFile), out _) ?? System.IO.Path.GetFullPath(storeFile);
            string target = Store.ConfinedPath.RealPath(Path, out _) ?? Path;
            foreach (string companion in new[] { "", "-journal", "-wal", "-shm" })
                if (Store.ConfinedPath.PathComparer.Equals(store + companion, target))
                    throw new MlTracesException(ErrorKind.InvalidArgument, "TargetIsStore",
                        $"'{Path}' is the store the traces are read from{(companion.Length > 0 ? " (its " + companion.Substring(1) + " file)" : "")}; Export-Trace never writes over it. Name a new .jsonl file.");
        }

        /// <summary>Puts the written file in the target's place in one step.</summary>
        public void Commit()
        {
            try
            {
                _writer!.Flush();
                _writer.BaseStream.Flush();
                if (_writer.BaseStream is FileStream fs) fs.Flush(flushToDisk: true);
                _writer.Dispose();
                _writer = null;
                if (_readOnly && File.Exists(Path)) File.SetAttributes(Path, File.GetAttributes(Path) & ~FileAttributes.ReadOnly);
                Store.AtomicFile.Replace(_temp, Path);
                if (_readOnly) File.SetAttributes(Path, File.GetAttributes(Path) | FileAttributes.ReadOnly);
                _committed = true;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw CannotWrite(Path, ex);
            }
            finally
            {
                if (!_committed) Dispose();
            }
        }

        /// <summary>Without <see cref="Commit"/>: removes the temporary file (only it), and the target stays as it was.</summary>
        public void Dispose()
        {
            try { _writer?.Dispose(); } catch (IOException) { }
            _writer = null;
            if (!_committed) TryDelete(_temp);
        }

        public static MlTracesException CannotWrite(string path, Exception ex) =>
            new MlTracesException(ErrorKind.WriteFailed, "CannotWriteFile", $"The file '{path}' cannot be written: {ex.Message} It is left as it was.", ex);

        private static void TryDelete(string temp)
        {
            try { File.Delete(temp); } catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { }
        }

        private static bool IsSqliteDatabase(string path)
        {
            try
            {
                using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                var head = new byte[SqliteMagic.Length];
                int read = 0, n;
                while (read < head.Length && (n = f.Read(head, read, head.Length - read)) > 0) read += n;
                if (read < head.Length) return false;
                for (int i = 0; i < head.Length; i++) if (head[i] != SqliteMagic[i]) return false;
                return true;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return false; // not readable: the write will say so
            }
        }
    }
}
