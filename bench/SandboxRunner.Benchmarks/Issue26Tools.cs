using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace SandboxRunner.Benchmarks;

/// <summary>The bare figures of issue 26's rows, and the load and clock the rows are measured under.</summary>
internal static class Bare
{
    /// <summary><c>docker run --rm --network none IMAGE true</c> through the CLI, labelled with the session.</summary>
    public static Task<TimeSpan> DockerRunAsync(string session, CancellationToken cancellationToken, params string[] extra) =>
        Timing.TimeAsync(() => Shell.RunAsync(
            "docker",
            ["run", "--rm", "--network", "none", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", .. extra, TaskOverheadBenchmark.Image, "true"],
            cancellationToken));

    /// <summary>What a task is made of, by hand: <c>git worktree add</c>, a <c>docker run</c> on it, <c>git diff</c>, remove.</summary>
    public static Task<TimeSpan> SequenceAsync(string session, string repository, string scratch, int i, CancellationToken cancellationToken) =>
        Timing.TimeAsync(async () =>
        {
            var dir = Path.Combine(scratch, string.Create(CultureInfo.InvariantCulture, $"bare-{i}"));
            await Shell.GitAsync(repository, cancellationToken, "worktree", "add", "-q", "--detach", dir, "HEAD");
            try
            {
                await Shell.RunAsync(
                    "docker",
                    ["run", "--rm", "--network", "none", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}",
                        "-v", $"{dir}:/workspace", "-w", "/workspace", TaskOverheadBenchmark.Image, "true"],
                    cancellationToken);
                await Shell.GitAsync(dir, cancellationToken, "diff", "HEAD");
            }
            finally
            {
                await Shell.GitAsync(repository, CancellationToken.None, "worktree", "remove", "--force", dir);
            }
        });
}

/// <summary>
/// A CPU-burning workload on the machine (one busy-looping shell per core), for the rows measured under load.
/// Only the processes it started are killed, by their own handles.
/// </summary>
internal sealed class CpuBurner : IDisposable
{
    private readonly List<Process> _processes = [];

    public CpuBurner()
    {
        for (var i = 0; i < Environment.ProcessorCount; i++)
        {
            var psi = new ProcessStartInfo("sh") { UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("while :; do :; done");
            _processes.Add(Process.Start(psi) ?? throw new InvalidOperationException("sh could not be started"));
        }
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            try
            {
                process.Kill();
                process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
            }

            process.Dispose();
        }
    }
}

/// <summary>
/// When each container died, by the engine's own event stream (<c>docker events</c>, started by the benchmark and
/// killed by it): the agent's exit, against which the time the runner takes to reply is read.
/// </summary>
internal sealed class DeathWatch : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _died = new(StringComparer.Ordinal);
    private readonly Task _reading;

    public DeathWatch()
    {
        var psi = new ProcessStartInfo("docker") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in (string[])["events", "--filter", "type=container", "--filter", "event=die", "--format", "{{.ID}} {{.TimeNano}}"])
        {
            psi.ArgumentList.Add(arg);
        }

        _process = Process.Start(psi) ?? throw new InvalidOperationException("docker events could not be started");
        _reading = Task.Run(async () =>
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                var parts = line.Split(' ');
                if (parts.Length == 2 && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var nanos))
                {
                    _died[parts[0]] = DateTimeOffset.FromUnixTimeMilliseconds(nanos / 1_000_000);
                }
            }
        });
    }

    /// <summary>When the container (by full or short id) died; waits a little for the event to arrive.</summary>
    public async Task<DateTimeOffset?> DiedAsync(string containerId)
    {
        for (var i = 0; i < 50; i++)
        {
            if (_died.FirstOrDefault(d => d.Key.StartsWith(containerId, StringComparison.Ordinal) || containerId.StartsWith(d.Key, StringComparison.Ordinal)) is { Key: not null } found)
            {
                return found.Value;
            }

            await Task.Delay(100);
        }

        return null;
    }

    public void Dispose()
    {
        try
        {
            _process.Kill();
            _process.WaitForExit();
            _reading.Wait(TimeSpan.FromSeconds(5));
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
