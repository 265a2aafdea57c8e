namespace SandboxRunner.Boxes;

public enum LogStream { Stdout, Stderr }

/// <summary>How a box's command ended. <see cref="Stopped"/>: killed because the caller's stop signal fired (a limit was passed).</summary>
public sealed record BoxExit(long? ExitCode, bool TimedOut, TimeSpan Elapsed, bool Stopped = false);

/// <summary>A command the runner runs in a started box of its own: argv, never a shell line of the caller's.</summary>
public sealed record BoxCommand(IReadOnlyList<string> Command, string User, string WorkingDirectory);

/// <summary>
/// One box, from creation to removal. Nothing that comes out of it is trusted: files are resolved by the
/// platform inside the box (a link planted there cannot reach a host path), and every read is bounded.
/// Disposing removes it, whatever happened before, on a budget of its own so a cancelled run still cleans up; it never
/// throws (a removal that fails is logged and left to the run's teardown and the orphan sweep, which find it by label).
/// </summary>
public interface ITaskBox : IAsyncDisposable
{
    string Id { get; }

    /// <summary>The machine it runs on, when the platform has more than one; null otherwise.</summary>
    string? Node { get; }

    /// <summary>
    /// Starts the box's command and waits for it to exit, streaming its output (demultiplexed, in order per stream)
    /// to <paramref name="onOutput"/>. At <paramref name="timeout"/> it is killed (no grace: the work is read from
    /// disk, not from a clean shutdown); <paramref name="limitStop"/> kills it the same way. Cancellation kills it
    /// too, then throws.
    /// </summary>
    Task<BoxExit> RunAsync(
        TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken);

    /// <summary>Starts the box's command without waiting for it: a box that idles while commands run in it (<see cref="ExecAsync"/>).</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="command"/> in the started box, streaming its output, and returns its exit code as the
    /// platform reports it (nothing inside can forge it); null when the platform no longer knows it (the box was
    /// killed under it).
    /// </summary>
    Task<long?> ExecAsync(BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken);

    /// <summary>Kills the box's processes (SIGKILL); one already stopped is not an error.</summary>
    Task KillAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A regular file's bytes from inside the box (running or stopped), or null when the path is missing, is not a
    /// regular file, or exceeds <paramref name="maxBytes"/>; never holds more than that plus a header.
    /// </summary>
    Task<byte[]?> ReadFileAsync(string path, long maxBytes, CancellationToken cancellationToken);

    /// <summary>
    /// Extracts the tar <paramref name="writeTar"/> writes into folder <paramref name="path"/> of the box (before it
    /// starts: a scratch folder of its workspace, when its root filesystem is read-only). Streamed, never held whole.
    /// </summary>
    Task PutArchiveAsync(string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken);

    /// <summary>Hands the tar of <paramref name="path"/> (its own name first in every entry) to <paramref name="readTar"/> as the platform streams it.</summary>
    Task<T> GetArchiveAsync<T>(string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken);

    /// <summary>Bytes the box has written to its own filesystem layer (not its scratch folders), or null where the platform cannot say.</summary>
    Task<long?> WrittenBytesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The paths that differ from the box's image (every parent of a change too), at most <paramref name="maxEntries"/>;
    /// null when there are more.
    /// </summary>
    Task<IReadOnlyList<PathChange>?> ChangesAsync(int maxEntries, CancellationToken cancellationToken);

    /// <summary>Commits the stopped box as a new image; returns its id.</summary>
    Task<string> CommitAsync(ImageCommit commit, CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="look"/> in a throwaway box beside this stopped one and returns the file it wrote, so the caller can
    /// see what the box's scratch folders hold before it copies any of them out. Null when the platform cannot (the caller
    /// then reads the folders whole), or when the look failed or wrote more than its bound.
    /// </summary>
    Task<byte[]?> LookBesideAsync(BesideLook look, CancellationToken cancellationToken) => Task.FromResult<byte[]?>(null);

    /// <summary>
    /// Whether <see cref="LookBesideAsync"/> can look at this box at all. One that cannot has its scratch folders read whole,
    /// so what a look compares times against (the runner's stamp, written after the tree) is never read there.
    /// </summary>
    bool LooksBeside => false;
}

/// <summary>
/// A command of the box's own image run beside a stopped box: it sees that box's scratch folders read-only at their paths,
/// an empty scratch folder <paramref name="OutputFolder"/> of its own, no network; it runs as root with no capability but
/// reading every file (so nothing the agent made unreadable is missed), and never runs anything of the scratch folders.
/// Its result is <paramref name="OutputFile"/>, at most <paramref name="MaxBytes"/>.
/// </summary>
public sealed record BesideLook(IReadOnlyList<string> Command, string OutputFolder, string OutputFile, long MaxBytes, TimeSpan Timeout);

public enum PathChangeKind { Modified, Added, Deleted }

/// <summary>One path of a box's filesystem that differs from its image.</summary>
public sealed record PathChange(string Path, PathChangeKind Kind);
