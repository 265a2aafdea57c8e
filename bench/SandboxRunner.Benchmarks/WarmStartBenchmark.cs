using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// Whether warm starts pay (issue 26 point 7): a task box as the runner makes it today (create, start, follow its
/// output, on a <c>none</c> site) from "dequeue" to its first command's marker, against a box created and started
/// ahead that waits at a gate, released at "dequeue" by writing to its attached standard input or by uploading a file
/// into a volume of its own (the swarm gate's way). Same image, hardening, mounts, limits and labels as a task box;
/// interleaved run by run with a bare <c>docker run</c> of the image as the anchor. Then what a gated box costs while
/// it waits (its cgroup's memory and CPU, and its containerd shim's).
/// </summary>
public static class WarmStartBenchmark
{
    private const int RunCount = 10;
    private const int WarmUps = 2;
    private const int IdleHeld = 4;
    private static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(10);

    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        var session = Guid.NewGuid().ToString("N")[..12];
        var root = Path.Combine(Path.GetTempPath(), "sr-bench-warm-" + session);
        var backend = new DockerBackend(
            NullLogger.Instance, EngineConnection.FromProcess(), new Dictionary<string, string> { [TaskOverheadBenchmark.BenchLabel] = session });
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "work"));
            Directory.CreateDirectory(Path.Combine(root, "home"));
            var images = new List<BoxImage> { new(TaskOverheadBenchmark.Image, null) };
            if (await NewestCodexImageAsync(cancellationToken) is { } codex)
            {
                images.Add(codex);
            }

            var scope = new BoxScope("bench-" + session);
            await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(scope, "warm", NetworkIntent.None), cancellationToken);
            var boxes = new WarmBoxes(backend, site, scope, root);
            foreach (var image in images)
            {
                await StartsAsync(boxes, image, session, cancellationToken);
            }

            foreach (var image in images)
            {
                await IdleAsync(boxes, image, cancellationToken);
            }
        }
        finally
        {
            // Everything this benchmark made carries its session label, whatever failed part-way.
            var left = (await Shell.RunAsync("docker", ["ps", "-aq", "--filter", $"label={TaskOverheadBenchmark.BenchLabel}={session}"], CancellationToken.None))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (left.Length > 0)
            {
                await Shell.RunAsync("docker", ["rm", "-f", "-v", .. left], CancellationToken.None);
            }

            Directory.Delete(root, recursive: true);
            await backend.DisposeAsync();
        }
    }

    private static async Task StartsAsync(WarmBoxes boxes, BoxImage image, string session, CancellationToken cancellationToken)
    {
        var table = new ResultTable(
            $"warm starts, {image.Tag}{(image.Init is null ? "" : " (sealed init)")}: \"dequeue\" to the first command (N={RunCount} after {WarmUps} warm-ups, interleaved)");
        var bare = table.Row("docker run --rm --network none IMAGE true [CLI], whole");
        table.Section("(a) cold, as the runner does: create + start + follow");
        var coldCreate = table.Row("(a) create call");
        var coldCommand = table.Row("(a) dequeue -> first command runs (its clock)");
        var coldMarker = table.Row("(a) dequeue -> its output read by the runner");
        table.Section("(b1) warm, stdin gate: created, attached, started ahead");
        var stdinAhead = table.Row("(b1) ahead: create + attach + start -> gate waiting");
        var stdinCommand = table.Row("(b1) dequeue -> first command runs (its clock)");
        var stdinMarker = table.Row("(b1) dequeue -> its output read by the runner");
        table.Section("(b2) warm, file gate (swarm's): a volume, polled every 50 ms");
        var fileAhead = table.Row("(b2) ahead: create + start -> gate waiting");
        var fileCommand = table.Row("(b2) dequeue -> first command runs (its clock)");
        var fileMarker = table.Row("(b2) dequeue -> its output read by the runner");
        table.Section("(b3) created ahead (no process), started at dequeue");
        var createdCommand = table.Row("(b3) dequeue -> first command runs (its clock)");
        var createdMarker = table.Row("(b3) dequeue -> its output read by the runner");
        var savedStdin = new Samples("(a) - (b1)");
        var savedFile = new Samples("(a) - (b2)");
        var savedCreated = new Samples("(a) - (b3)");
        var loads = new List<string>();
        for (var i = 0; i < WarmUps + RunCount; i++)
        {
            var measured = i >= WarmUps;
            Console.Error.Write(measured ? "." : "w");
            if (measured && (i - WarmUps) % 5 == 0)
            {
                loads.Add(Load());
            }

            // Made ahead: both gated boxes wait while the bare run and the cold start happen, as they would during a checkout.
            var t = Stopwatch.StartNew();
            await using var stdin = await boxes.GatedAsync(image, $"stdin-{i}", Gate.Stdin, cancellationToken);
            await stdin.Ready.WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
            var stdinAheadMs = t.Elapsed.TotalMilliseconds;
            t.Restart();
            await using var file = await boxes.GatedAsync(image, $"file-{i}", Gate.File, cancellationToken);
            await file.Ready.WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
            var fileAheadMs = t.Elapsed.TotalMilliseconds;
            await using var created = await boxes.CreatedAsync(image, $"created-{i}", cancellationToken);

            t.Restart();
            await Shell.RunAsync("docker", ["run", "--rm", "--network", "none", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", image.Tag, "true"], cancellationToken);
            var bareMs = t.Elapsed.TotalMilliseconds;

            // The four starts in a rotating order, so none always follows the same one.
            var results = new Dictionary<string, FirstCommand>();
            for (var k = 0; k < 4; k++)
            {
                switch ((i + k) % 4)
                {
                    case 0:
                        results["cold"] = await boxes.ColdAsync(image, $"cold-{i}", cancellationToken);
                        break;
                    case 1:
                        results["created"] = await boxes.StartCreatedAsync(created, image, cancellationToken);
                        break;
                    case 2:
                        results["stdin"] = await stdin.ReleaseAsync(cancellationToken);
                        break;
                    default:
                        results["file"] = await file.ReleaseAsync(cancellationToken);
                        break;
                }
            }

            if (measured)
            {
                bare.Add(bareMs);
                coldCreate.Add(results["cold"].CreateMs);
                coldCommand.Add(results["cold"].CommandMs);
                coldMarker.Add(results["cold"].MarkerMs);
                stdinAhead.Add(stdinAheadMs);
                stdinCommand.Add(results["stdin"].CommandMs);
                stdinMarker.Add(results["stdin"].MarkerMs);
                fileAhead.Add(fileAheadMs);
                fileCommand.Add(results["file"].CommandMs);
                fileMarker.Add(results["file"].MarkerMs);
                savedStdin.Add(results["cold"].MarkerMs - results["stdin"].MarkerMs);
                savedFile.Add(results["cold"].MarkerMs - results["file"].MarkerMs);
                createdCommand.Add(results["created"].CommandMs);
                createdMarker.Add(results["created"].MarkerMs);
                savedCreated.Add(results["cold"].MarkerMs - results["created"].MarkerMs);
            }
        }

        Console.Error.WriteLine();
        loads.Add(Load());
        table.Note($"saved per task (medians of the per-run differences, output read): stdin gate {savedStdin.Median:F0} ms (p90 {savedStdin.P90:F0}), " +
            $"file gate {savedFile.Median:F0} ms (p90 {savedFile.P90:F0}), created ahead {savedCreated.Median:F0} ms (p90 {savedCreated.P90:F0}); the bare docker run is {bare.Median:F0} ms");
        table.Note($"target: an agent starts <= 100 ms after its task is dequeued: stdin gate {stdinMarker.Median:F0} ms (p90 {stdinMarker.P90:F0}), " +
            $"file gate {fileMarker.Median:F0} ms (p90 {fileMarker.P90:F0}), created ahead {createdMarker.Median:F0} ms (p90 {createdMarker.P90:F0}), cold {coldMarker.Median:F0} ms (p90 {coldMarker.P90:F0})");
        table.Note($"load average (1/5/15 min) during the runs: {string.Join("; ", loads)}");
        Console.WriteLine(table.Render());
    }

    private static async Task IdleAsync(WarmBoxes boxes, BoxImage image, CancellationToken cancellationToken)
    {
        var table = new IdleTable($"what a gated box costs while it waits, {image.Tag}: {IdleHeld} of each gate held {IdleWindow.TotalSeconds:F0} s");
        foreach (var gate in new[] { Gate.Stdin, Gate.File })
        {
            var held = new List<GatedBox>();
            try
            {
                for (var i = 0; i < IdleHeld; i++)
                {
                    var box = await boxes.GatedAsync(image, $"idle-{gate}-{i}".ToLowerInvariant(), gate, cancellationToken);
                    held.Add(box);
                    await box.Ready.WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
                }

                var before = held.Select(b => IdleCost.Read(b.Id)).ToList();
                await Task.Delay(IdleWindow, cancellationToken);
                var after = held.Select(b => IdleCost.Read(b.Id)).ToList();
                table.Add(gate.ToString(), before, after, IdleWindow);
            }
            finally
            {
                foreach (var box in held)
                {
                    await box.DisposeAsync();
                }
            }
        }

        table.Note($"load average (1/5/15 min) at the end: {Load()}");
        Console.WriteLine(table.Render());
    }

    /// <summary>The newest <c>sandbox-runner/codex:*</c> image built here, with its sealed init; null when there is none.</summary>
    private static async Task<BoxImage?> NewestCodexImageAsync(CancellationToken cancellationToken)
    {
        var lines = (await Shell.RunAsync("docker", ["images", "sandbox-runner/codex", "--format", "{{.CreatedAt}}|{{.Repository}}:{{.Tag}}"], cancellationToken))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.EndsWith(":<none>", StringComparison.Ordinal))
            .OrderByDescending(l => l, StringComparer.Ordinal)
            .ToList();
        if (lines.Count == 0)
        {
            Console.WriteLine("no sandbox-runner/codex image here (`sandbox-runner image build` or .ci/setup builds one); measuring the fake Codex only");
            return null;
        }

        var tag = lines[0].Split('|')[1];
        var init = (await Shell.RunAsync("docker", ["image", "inspect", tag, "--format", "{{index .Config.Labels \"sandbox-runner.init\"}}"], cancellationToken)).Trim();
        return new BoxImage(tag, init.Length > 0 && init != "<no value>" ? init : null);
    }

    internal static string Load() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) + $" at {DateTime.UtcNow:HH:mm} UTC" : "unknown";
}

internal enum Gate
{
    /// <summary>The box reads a line from its attached standard input; the runner writes it at dequeue.</summary>
    Stdin,

    /// <summary>The box polls for a file in a volume of its own (every 50 ms, as the swarm gate); the runner uploads it at dequeue.</summary>
    File,
}

/// <summary>One start's times from "dequeue": the create call (cold only), the first command by its own clock, and its output read here.</summary>
internal sealed record FirstCommand(double CreateMs, double CommandMs, double MarkerMs);
