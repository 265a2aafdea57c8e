using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.Text;
using Docker.DotNet;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Configuration;
using SandboxRunner.Policy;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// Task boxes for <see cref="WarmStartBenchmark"/>, shaped as <c>TaskContainer.Spec</c> shapes a bind-transport task's
/// (uid 1000, <c>/workspace</c> and <c>/codex-home</c> bound from this machine, read-only root, the conservative limits,
/// the log cap, the image's sealed init) on a <c>none</c> site, with the run's labels; only their command differs.
/// </summary>
internal sealed class WarmBoxes(DockerBackend backend, IRunSite site, BoxScope scope, string root)
{
    public const string RunId = "warm";
    public const string GateFolder = "/.warm-gate";
    private const string Ready = "echo warm-bench-ready; ";
    private const string Go = "echo warm-bench-go $(date +%s%N)";
    private const string ColdCommand = Go;
    private const string StdinCommand = Ready + "read -r go; " + Go;
    private const string FileCommand = Ready + "while [ ! -e " + GateFolder + "/go ]; do sleep 0.05; done; " + Go;

    /// <summary>Today's start: the site's create, then <see cref="ITaskBox.RunAsync"/> (start, follow, wait) as <c>TaskRunner</c> calls it.</summary>
    public async Task<FirstCommand> ColdAsync(BoxImage image, string task, CancellationToken cancellationToken)
    {
        var wall = OutputWatch.NowNs();
        var t0 = Stopwatch.GetTimestamp();
        await using var box = await CreatedAsync(image, task, cancellationToken);
        var createMs = Timing.Ms(t0, Stopwatch.GetTimestamp());
        return await RunAsync(box, image, wall, t0, createMs, cancellationToken);
    }

    /// <summary>A task box created (not started) now, with no command waiting in it: a created container runs no process.</summary>
    public Task<ITaskBox> CreatedAsync(BoxImage image, string task, CancellationToken cancellationToken) =>
        site.CreateBoxAsync(Spec(image, task, ColdCommand), cancellationToken);

    /// <summary>The dequeue of a box <see cref="CreatedAsync"/> made ahead: start, follow, wait, as a cold one.</summary>
    public Task<FirstCommand> StartCreatedAsync(ITaskBox box, BoxImage image, CancellationToken cancellationToken) =>
        RunAsync(box, image, OutputWatch.NowNs(), Stopwatch.GetTimestamp(), 0, cancellationToken);

    private static async Task<FirstCommand> RunAsync(ITaskBox box, BoxImage image, long wall, long t0, double createMs, CancellationToken cancellationToken)
    {
        var watch = new OutputWatch();
        var exit = await box.RunAsync(TimeSpan.FromMinutes(1), watch.OnChunk, null, CancellationToken.None, cancellationToken);
        if (!watch.Go.Task.IsCompleted)
        {
            throw new InvalidOperationException($"a box of {image.Tag} exited ({exit.ExitCode}) without its marker: {watch.Text}");
        }

        var (at, ns) = await watch.Go.Task;
        return new FirstCommand(createMs, (ns - wall) / 1e6, Timing.Ms(t0, at));
    }

    /// <summary>A box created and started now that runs its command only once released (<see cref="GatedBox.ReleaseAsync"/>).</summary>
    public async Task<GatedBox> GatedAsync(BoxImage image, string task, Gate gate, CancellationToken cancellationToken)
    {
        var box = Spec(image, task, gate == Gate.Stdin ? StdinCommand : FileCommand);
        var spec = ContainerSpec.ForBox(box, Labels.For(scope, RunId, box.Identity), "none");
        spec = gate == Gate.Stdin ? spec with { OpenStdin = true } : spec with { Volumes = [.. spec.Volumes, GateFolder] };
        var id = await backend.Containers.CreateAsync(spec, cancellationToken);
        var gated = new GatedBox(backend, id);
        try
        {
            if (gate == Gate.Stdin)
            {
                gated.Stdin = await backend.Containers.StartAttachedAsync(id, cancellationToken);
            }
            else
            {
                await backend.Containers.StartAsync(id, cancellationToken);
            }

            gated.Follow();
            return gated;
        }
        catch
        {
            await gated.DisposeAsync();
            throw;
        }
    }

    private BoxSpec Spec(BoxImage image, string task, string command) => new()
    {
        Image = image.Tag,
        Command = ["/bin/sh", "-c", command],
        User = "1000:1000",
        WorkingDirectory = "/workspace",
        Environment = new Dictionary<string, string> { ["CODEX_HOME"] = "/codex-home", ["HOME"] = "/codex-home" },
        Workspace =
        [
            new BoxMount.HostFolder(Path.Combine(root, "work"), "/workspace", ReadOnly: false),
            new BoxMount.HostFolder(Path.Combine(root, "home"), "/codex-home", ReadOnly: false),
        ],
        Limits = ResourceProfiles.For(ResourcePolicy.Conservative),
        MaxLogBytes = 64L * 1024 * 1024,
        ReadOnlyRoot = true,
        Identity = new BoxIdentity(task),
        Init = image.InitFor(undumpable: true),
    };
}

/// <summary>A started box waiting at its gate; disposing removes it (and ends the follow and the attached stdin).</summary>
internal sealed class GatedBox(DockerBackend backend, string id) : IAsyncDisposable
{
    private readonly OutputWatch _watch = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _logs = Task.CompletedTask;

    public string Id => id;

    public MultiplexedStream? Stdin { get; set; }

    /// <summary>Completes once the box's gate is waiting (it printed its ready line).</summary>
    public Task Ready => _watch.Ready.Task;

    public void Follow() => _logs = backend.Containers.ReadLogsAsync(id, true, _watch.OnChunk, _stop.Token);

    /// <summary>The dequeue: one write to the attached stdin, or one archive upload of the gate file; then the first command's marker.</summary>
    public async Task<FirstCommand> ReleaseAsync(CancellationToken cancellationToken)
    {
        var wall = OutputWatch.NowNs();
        var t0 = Stopwatch.GetTimestamp();
        if (Stdin is { } stdin)
        {
            await DockerContainers.WriteInputAsync(stdin, "go\n"u8.ToArray(), cancellationToken);
        }
        else
        {
            await backend.Archives.PutAsync(id, WarmBoxes.GateFolder, async (tar, ct) =>
            {
                await using var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true);
                await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "go") { DataStream = new MemoryStream([]), Mode = (UnixFileMode)0b100_100_100 }, ct);
            }, cancellationToken);
        }

        var (at, ns) = await _watch.Go.Task.WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
        return new FirstCommand(0, (ns - wall) / 1e6, Timing.Ms(t0, at));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Stdin?.Dispose();
        try
        {
            await _logs;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The follow ends with the box; how it ends (cancelled, the stream cut) says nothing about the measurement.
        }

        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await backend.Containers.RemoveAsync(id, budget.Token);
        _stop.Dispose();
    }
}

/// <summary>A box's output as it arrives: when its gate is ready, and when its first command's marker (with that command's clock) is read.</summary>
internal sealed class OutputWatch
{
    private readonly StringBuilder _text = new();
    private readonly Lock _lock = new();

    public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<(long Timestamp, long Ns)> Go { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Text
    {
        get
        {
            lock (_lock)
            {
                return _text.ToString();
            }
        }
    }

    public static long NowNs() => (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;

    public void OnChunk(LogStream stream, ReadOnlySpan<byte> chunk)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            _text.Append(Encoding.UTF8.GetString(chunk));
            var all = _text.ToString();
            if (all.Contains("warm-bench-ready\n", StringComparison.Ordinal))
            {
                Ready.TrySetResult();
            }

            var at = all.IndexOf("warm-bench-go ", StringComparison.Ordinal);
            var end = at < 0 ? -1 : all.IndexOf('\n', at);
            if (end > 0 && long.TryParse(all.AsSpan(at + 14, end - at - 14).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var ns))
            {
                Go.TrySetResult((now, ns));
            }
        }
    }
}
