using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Platform;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>What a finished <c>sandbox-runner</c> process left: its exit code and everything it printed.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// The built <c>sandbox-runner</c> (the DLL the MCP tests start, next to the test assembly) as a child process
/// with its output captured, for the command line's own tests: its exit code and streams are what a pipeline sees.
/// </summary>
public sealed class CliProcess : IAsyncDisposable
{
    /// <summary>Variables a pipeline sets that must never reach the child from the machine running the tests.</summary>
    private static readonly string[] Withheld = ["CODEX_API_KEY", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"];

    /// <summary>How long a command run to its end may take.</summary>
    public static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly Task _pumps;
    private int? _exitCode;

    private CliProcess(Process process)
    {
        _process = process;
        _pumps = Task.WhenAll(PumpAsync(process.StandardOutput, line => { lock (_stdout) { _stdout.Append(line).Append('\n'); } }), PumpAsync(process.StandardError, _stderr.Enqueue));
    }

    public int Id => _process.Id;

    public IReadOnlyList<string> StderrLines => [.. _stderr];

    /// <summary>Starts <c>dotnet sandbox-runner.dll ARGS</c> in <paramref name="workingDirectory"/>; <paramref name="environment"/> sets (or, with null, removes) variables.</summary>
    /// <remarks>
    /// Started with SIGINT at its default disposition, as from a terminal or a CI runner's step, also when the tests run
    /// as a background job of a shell without job control (which ignores SIGINT, and an ignored signal stays ignored
    /// across exec): <c>python3</c> resets it and execs in place, so the pid is the command's own.
    /// </remarks>
    public static CliProcess Start(string workingDirectory, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null) =>
        Launch("python3", ["-c", SigintDefault, "dotnet", McpServerProcess.ServerDll, .. arguments], workingDirectory, environment);

    private const string SigintDefault = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])";

    /// <summary>
    /// Runs <paramref name="script"/> as a CI job's step does (GitHub's <c>bash --noprofile --norc -eo pipefail</c>):
    /// the first failing command ends it. <c>sandbox-runner</c> on its PATH is the built one.
    /// </summary>
    public static async Task<CliResult> RunScriptAsync(string workingDirectory, string script, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout)
    {
        var bin = Path.Combine(Path.GetTempPath(), "sr-tests", "bin-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(bin);
        try
        {
            var shim = Path.Combine(bin, "sandbox-runner");
            await File.WriteAllTextAsync(shim, $"#!/bin/sh\nexec dotnet '{McpServerProcess.ServerDll}' \"$@\"\n");
            File.SetUnixFileMode(shim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var withPath = new Dictionary<string, string?>(environment) { ["PATH"] = $"{bin}:{System.Environment.GetEnvironmentVariable("PATH")}" };
            await using var process = Launch("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], workingDirectory, withPath);
            return await process.WaitAsync(timeout);
        }
        finally
        {
            Directory.Delete(bin, recursive: true);
        }
    }

    private static CliProcess Launch(string program, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string?>? environment)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        ApplyEnvironment(start, environment);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        process.StandardInput.Close();
        return new CliProcess(process);
    }

    /// <summary>Runs the command to its end (at most <paramref name="timeout"/>, default three minutes).</summary>
    public static async Task<CliResult> RunAsync(string workingDirectory, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        await using var process = Start(workingDirectory, arguments, environment);
        return await process.WaitAsync(timeout ?? RunTimeout);
    }

    /// <summary>The environment of a child: this process's, without a pipeline's variables, with <paramref name="environment"/> applied.</summary>
    private static void ApplyEnvironment(ProcessStartInfo start, IReadOnlyDictionary<string, string?>? environment)
    {
        foreach (var name in Withheld)
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
    }

    /// <summary>Waits for the process to end; past <paramref name="timeout"/> it is killed and the test fails with what it printed.</summary>
    public async Task<CliResult> WaitAsync(TimeSpan timeout)
    {
        using var budget = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(budget.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
            await _pumps;
            Assert.Fail($"{_process.StartInfo.FileName} {string.Join(' ', _process.StartInfo.ArgumentList)} did not end within {timeout}\n{Current()}");
        }

        await _pumps;
        return Current();
    }

    /// <summary>Waits until a line on stderr (the progress log, one line per event) matches.</summary>
    public async Task WaitForStderrAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var printed = await Poll.UntilAsync(
            () => _stderr.Any(match) || _process.HasExited,
            TimeSpan.FromMilliseconds(100), timeout, CancellationToken.None);
        Assert.True(_stderr.Any(match) || !_process.HasExited, $"sandbox-runner ended before the line was printed\n{Current()}");
        Assert.True(printed, $"no such line on stderr after {timeout}\n{Current()}");
    }

    /// <summary>Waits until the progress log says <paramref name="taskId"/> ran a command containing <paramref name="command"/>: the task's earlier steps are done.</summary>
    public Task WaitForCommandAsync(string taskId, string command, TimeSpan timeout) =>
        WaitForStderrAsync(l => l.Contains($" {taskId}: ran ", StringComparison.Ordinal) && l.Contains(command, StringComparison.Ordinal), timeout);

    /// <summary>
    /// SIGINT, as Ctrl-C in a terminal or a CI runner's cancel sends it (<see cref="Process.Kill()"/> would send
    /// SIGKILL). A process started with SIGINT ignored (a background job of a shell without job control) never sees
    /// it, which .NET honours: that is said plainly instead of surfacing as a timeout.
    /// </summary>
    public async Task InterruptAsync()
    {
        Assert.False(IgnoresSigint(), "sandbox-runner was started with SIGINT ignored (the test process ignores it: run the tests in the foreground, not as a background job of a shell without job control)");
        var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-INT", Id.ToString(CultureInfo.InvariantCulture) } })!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    private bool IgnoresSigint()
    {
        var line = File.ReadLines($"/proc/{Id}/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        const int sigint = 2;
        return line is not null && (ulong.Parse(line["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << (sigint - 1))) != 0;
    }

    /// <summary>What the process has printed so far, and its exit code once it has ended (-1 before).</summary>
    public CliResult Current()
    {
        lock (_stdout)
        {
            return new CliResult(_exitCode ?? (_process.HasExited ? _process.ExitCode : -1), _stdout.ToString(), string.Join('\n', _stderr));
        }
    }

    private static async Task PumpAsync(StreamReader reader, Action<string> line)
    {
        while (await reader.ReadLineAsync() is { } text)
        {
            line(text);
        }
    }

    /// <summary>Whether disposing had to kill it: the test never waited for its end, having failed before.</summary>
    public bool KilledAtDisposal { get; private set; }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            KilledAtDisposal = true;
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        // What it printed stays readable after (a harness's disposal shows it).
        _exitCode = _process.ExitCode;
        _process.Dispose();
    }
}
