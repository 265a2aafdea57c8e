using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace SandboxRunner.Git;

/// <summary>How much of the surrounding git configuration a call may read.</summary>
public enum GitTrust
{
    /// <summary>The user's repository before any agent ran: system, global and repository config apply; hooks never run.</summary>
    Trusted,

    /// <summary>
    /// Anything an agent could have touched: no system or global config, no hooks, no fsmonitor, no external
    /// diff or textconv. Callers also point GIT_DIR at a git directory the runner owns, so the agent's own
    /// <c>.git/config</c> (and the filters, aliases or includes it names) is never read.
    /// </summary>
    Untrusted,
}

public sealed record GitCall(string WorkingDirectory, IReadOnlyList<string> Args)
{
    public GitTrust Trust { get; init; } = GitTrust.Trusted;
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    public byte[]? Stdin { get; init; }

    /// <summary>Exit codes that are answers rather than failures (e.g. 1 from <c>rev-parse --verify --quiet</c>).</summary>
    public IReadOnlyList<int> AcceptedExitCodes { get; init; } = [0];

    /// <summary>Runs git as this user (through <c>setpriv</c>; the caller must be root), so the files it writes are theirs.</summary>
    public Platform.UnixOwner? RunAs { get; init; }

    /// <summary>Killed past this; a call on an agent's tree must not be able to hang the server.</summary>
    public TimeSpan Timeout { get; init; } = GitCli.DefaultTimeout;

    /// <summary>Stdout goes to this file instead of memory (a patch can be large); <see cref="GitOutput.Stdout"/> is then empty.</summary>
    public string? StdoutFile { get; init; }

    /// <summary>Stdout past this many bytes (in memory or in <see cref="StdoutFile"/>) kills git and throws <see cref="GitOutputLimitException"/>.</summary>
    public long MaxStdoutBytes { get; init; } = GitCli.DefaultMaxStdoutBytes;

    /// <summary>
    /// Stdout handed to this reader as git writes it (a tree streamed into an upload), instead of kept; whatever it leaves
    /// unread is drained. A reader that throws kills git, and the call throws what it threw. <see cref="GitOutput.Stdout"/> is then empty.
    /// </summary>
    public Func<Stream, CancellationToken, Task>? ReadStdout { get; init; }
}

public sealed record GitOutput(int ExitCode, byte[] Stdout, string Stderr)
{
    public string Text => Encoding.UTF8.GetString(Stdout);
}

public class GitException(string message, int exitCode, string stderr) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
    public string Stderr { get; } = stderr;
}

/// <summary>git printed more than the call allowed and was stopped.</summary>
public sealed class GitOutputLimitException(string message, long limit) : GitException(message, -1, "")
{
    public long Limit { get; } = limit;
}

/// <summary>git ran past its deadline and was killed.</summary>
public sealed class GitTimeoutException(string message) : GitException(message, -1, "");

/// <summary>
/// The one way this code base runs git (after container-use's repository/git.go): every call is logged,
/// cancellable, has hooks disabled, and fails with the exit code and stderr in the exception.
/// </summary>
public sealed partial class GitCli(ILogger<GitCli> logger)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);
    public const long DefaultMaxStdoutBytes = 64L * 1024 * 1024;
    private const int StderrKeptChars = 16 * 1024;

    private static readonly string[] HardeningArgs =
    [
        "-c", "core.hooksPath=/dev/null",
        "-c", "core.fsmonitor=false",
        "-c", "core.untrackedCache=false",
        "-c", "core.quotePath=false",
        "-c", "protocol.allow=never",
        "-c", "diff.external=",
        "-c", "advice.detachedHead=false",
    ];

    public async Task<GitOutput> RunAsync(GitCall call, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(call.RunAs is null ? "git" : "setpriv")
        {
            WorkingDirectory = call.WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // Inherited GIT_* variables (from a hook, an IDE) would silently retarget the call.
        foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("GIT_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(name);
        }

        psi.Environment["GIT_TERMINAL_PROMPT"] = "0";
        psi.Environment["LC_ALL"] = "C";
        if (call.Trust == GitTrust.Untrusted)
        {
            psi.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
            psi.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
            psi.Environment["GIT_ATTR_NOSYSTEM"] = "1";
            psi.Environment["HOME"] = "/nonexistent";
            psi.Environment["XDG_CONFIG_HOME"] = "/nonexistent";
            psi.Environment["GIT_CEILING_DIRECTORIES"] = "/";
        }

        foreach (var (key, value) in call.Environment)
        {
            psi.Environment[key] = value;
        }

        if (call.RunAs is { } user)
        {
            foreach (var arg in (string[])[$"--reuid={user.Uid}", $"--regid={user.Gid}", "--clear-groups", "--", "git"])
            {
                psi.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in HardeningArgs)
        {
            psi.ArgumentList.Add(arg);
        }

        foreach (var arg in call.Args)
        {
            psi.ArgumentList.Add(arg);
        }

        var started = Stopwatch.GetTimestamp();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("git could not be started");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(call.Timeout);
        var overLimit = false;
        void Kill()
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }

        using var kill = deadline.Token.Register(Kill);
        Exception? readerFailed = null;
        var stdoutTask = call.ReadStdout is { } readStdout
            ? ReadStreamingAsync(process.StandardOutput.BaseStream, readStdout, e =>
            {
                readerFailed = e;
                Kill();
            }, deadline.Token)
            : CopyBoundedAsync(process.StandardOutput.BaseStream, call.StdoutFile, call.MaxStdoutBytes, () =>
            {
                overLimit = true;
                Kill();
            });
        var stderrTask = TailAsync(process.StandardError);
        if (call.Stdin is { } stdin)
        {
            try
            {
                await process.StandardInput.BaseStream.WriteAsync(stdin, deadline.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                // git may exit before reading all input (e.g. on a usage error); its exit code says why.
            }
        }

        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }

        await process.WaitForExitAsync(CancellationToken.None);
        var output = new GitOutput(process.ExitCode, await stdoutTask, await stderrTask);
        cancellationToken.ThrowIfCancellationRequested();
        var args = string.Join(' ', call.Args);
        LogCall(args, output.ExitCode, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (readerFailed is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(readerFailed);
        }

        if (overLimit)
        {
            throw new GitOutputLimitException($"git {args} printed more than {call.MaxStdoutBytes} bytes and was stopped", call.MaxStdoutBytes);
        }

        if (deadline.IsCancellationRequested)
        {
            throw new GitTimeoutException($"git {args} did not finish within {call.Timeout.TotalSeconds:F0} s and was killed");
        }

        if (!call.AcceptedExitCodes.Contains(output.ExitCode))
        {
            throw new GitException(
                $"git {args} failed with exit code {output.ExitCode}: {output.Stderr.Trim()}",
                output.ExitCode,
                output.Stderr);
        }

        return output;
    }

    /// <summary>
    /// Reads git's stdout to the end (so git never blocks on a full pipe), into memory or a file, and calls
    /// <paramref name="onLimit"/> once when it passes <paramref name="limit"/>; the rest is drained and dropped.
    /// </summary>
    private static async Task<byte[]> CopyBoundedAsync(Stream stream, string? file, long limit, Action onLimit)
    {
        await using var target = file is null ? new MemoryStream() : (Stream)new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.Read, 81920, useAsync: true);
        var buffer = new byte[81920];
        long total = 0;
        var limited = false;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            total += read;
            if (limited)
            {
                continue;
            }

            if (total > limit)
            {
                limited = true;
                onLimit();
                continue;
            }

            await target.WriteAsync(buffer.AsMemory(0, read));
        }

        return target is MemoryStream memory ? memory.ToArray() : [];
    }

    /// <summary>Hands stdout to <paramref name="reader"/>, then drains what it left, so git never blocks on a full pipe.</summary>
    private static async Task<byte[]> ReadStreamingAsync(Stream stream, Func<Stream, CancellationToken, Task> reader, Action<Exception> onFailure, CancellationToken cancellationToken)
    {
        try
        {
            await reader(stream, cancellationToken);
        }
        catch (Exception e)
        {
            onFailure(e);
        }

        var buffer = new byte[81920];
        try
        {
            while (await stream.ReadAsync(buffer, CancellationToken.None) > 0)
            {
            }
        }
        catch (IOException)
        {
        }

        return [];
    }

    /// <summary>The end of git's stderr: enough to say what failed, never the whole of a flood.</summary>
    private static async Task<string> TailAsync(StreamReader reader)
    {
        var kept = new StringBuilder();
        var buffer = new char[8192];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            kept.Append(buffer, 0, read);
            if (kept.Length > 2 * StderrKeptChars)
            {
                kept.Remove(0, kept.Length - StderrKeptChars);
            }
        }

        return kept.ToString();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "git {Args} -> {ExitCode} in {Milliseconds:F0} ms")]
    private partial void LogCall(string args, int exitCode, double milliseconds);
}
