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
}

public sealed record GitOutput(int ExitCode, byte[] Stdout, string Stderr)
{
    public string Text => Encoding.UTF8.GetString(Stdout);
}

public sealed class GitException(string message, int exitCode, string stderr) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
    public string Stderr { get; } = stderr;
}

/// <summary>
/// The one way this code base runs git (after container-use's repository/git.go): every call is logged,
/// cancellable, has hooks disabled, and fails with the exit code and stderr in the exception.
/// </summary>
public sealed partial class GitCli(ILogger<GitCli> logger)
{
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
        using var kill = cancellationToken.Register(() =>
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        });

        var stdoutTask = ReadAllAsync(process.StandardOutput.BaseStream);
        var stderrTask = process.StandardError.ReadToEndAsync(CancellationToken.None);
        if (call.Stdin is { } stdin)
        {
            try
            {
                await process.StandardInput.BaseStream.WriteAsync(stdin, cancellationToken);
            }
            catch (IOException)
            {
                // git may exit before reading all input (e.g. on a usage error); its exit code says why.
            }
        }

        process.StandardInput.Close();
        await process.WaitForExitAsync(CancellationToken.None);
        var output = new GitOutput(process.ExitCode, await stdoutTask, await stderrTask);
        cancellationToken.ThrowIfCancellationRequested();
        LogCall(string.Join(' ', call.Args), output.ExitCode, Stopwatch.GetElapsedTime(started).TotalMilliseconds);

        if (!call.AcceptedExitCodes.Contains(output.ExitCode))
        {
            throw new GitException(
                $"git {string.Join(' ', call.Args)} failed with exit code {output.ExitCode}: {output.Stderr.Trim()}",
                output.ExitCode,
                output.Stderr);
        }

        return output;
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "git {Args} -> {ExitCode} in {Milliseconds:F0} ms")]
    private partial void LogCall(string args, int exitCode, double milliseconds);
}
