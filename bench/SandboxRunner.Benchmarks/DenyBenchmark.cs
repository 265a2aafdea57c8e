using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// What <c>network_policy: deny</c> costs a run on the backend seam (issue 26, rows "deny" and "teardown"): a bare
/// <c>docker run --network none</c> of the task image, against one site of each policy opened, one box running
/// <c>true</c> on it, and the site closed, interleaved run by run. Split into open, box and close (what precedes a
/// run's reply) and the time until the engine holds nothing of the site any more; then the same with two busy
/// containers loading the machine, and one deny run's Docker events, relative to the site's open.
/// </summary>
public static class DenyBenchmark
{
    private const int RunCount = 12;
    private const int LoadedRunCount = 6;
    private const int WarmUps = 2;

    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        var session = Guid.NewGuid().ToString("N")[..12];
        var labels = new Dictionary<string, string> { [TaskOverheadBenchmark.BenchLabel] = session };
        var backend = new DockerBackend(NullLogger.Instance, EngineConnection.FromProcess(), labels);
        var load = new List<string>();
        try
        {
            var proxy = ImageRecipe.EgressProxy();
            if (!await backend.Images.ExistsAsync(proxy.Tag, cancellationToken))
            {
                await backend.Images.BuildAsync(proxy, cancellationToken);
            }

            var scope = new BoxScope("bench-" + session);
            var egress = new EgressSpec(proxy.Tag, ["allowed.example.test"], new ModelRoute("https://api.example.test/v1", "sk-bench-0123456789"));
            await PhaseAsync("quiet", RunCount, backend, scope, egress, session, cancellationToken);

            for (var i = 0; i < 2; i++)
            {
                load.Add((await Shell.RunAsync(
                    "docker", ["run", "-d", "--rm", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", "--cpus", "1", "--entrypoint", "sh", TaskOverheadBenchmark.Image, "-c", "while :; do :; done"],
                    cancellationToken)).Trim());
            }

            await PhaseAsync("two busy containers (1 CPU each) loading the machine", LoadedRunCount, backend, scope, egress, session, cancellationToken);
        }
        finally
        {
            foreach (var id in load)
            {
                await Shell.RunAsync("docker", ["rm", "-f", id], CancellationToken.None);
            }

            await backend.DisposeAsync();
        }
    }

    private static async Task PhaseAsync(string phase, int runs, DockerBackend backend, BoxScope scope, EgressSpec egress, string session, CancellationToken cancellationToken)
    {
        var table = new ResultTable($"deny on the seam, {phase}: one site, one box running `true`, the site closed (N={runs} after {WarmUps} warm-up runs, interleaved)");
        var bare = table.Row("docker run --rm --network none fake-codex true [CLI]");
        var none = table.Row("site none: open + box + close");
        var open = table.Row("site deny: open (network, proxy, ready)");
        var box = table.Row("site deny: box (holder, create, run, remove)");
        var close = table.Row("site deny: close (what precedes the reply)");
        var whole = table.Row("site deny: open + box + close");
        var gone = table.Row("site deny: close until the engine holds nothing of it");
        var extra = new Samples("deny - none");
        string events = "";
        for (var i = 0; i < WarmUps + runs; i++)
        {
            var measured = i >= WarmUps;
            Console.Error.Write(measured ? "." : "w");
            var t = Stopwatch.StartNew();
            await Shell.RunAsync("docker", ["run", "--rm", "--network", "none", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", TaskOverheadBenchmark.Image, "true"], cancellationToken);
            var bareMs = t.Elapsed.TotalMilliseconds;

            t.Restart();
            await using (var site = await backend.OpenRunSiteAsync(new RunSiteSpec(scope, $"none-{i}", NetworkIntent.None), cancellationToken))
            {
                await RunBoxAsync(site, cancellationToken);
            }

            var noneMs = t.Elapsed.TotalMilliseconds;

            var since = DateTimeOffset.UtcNow;
            t.Restart();
            var site2 = await backend.OpenRunSiteAsync(new RunSiteSpec(scope, $"deny-{i}", NetworkIntent.Allowlist, egress), cancellationToken);
            var openMs = t.Elapsed.TotalMilliseconds;
            await RunBoxAsync(site2, cancellationToken);
            var boxMs = t.Elapsed.TotalMilliseconds - openMs;
            await site2.DisposeAsync();
            var closeMs = t.Elapsed.TotalMilliseconds - openMs - boxMs;
            await backend.SettledAsync(cancellationToken);
            var goneMs = t.Elapsed.TotalMilliseconds - openMs - boxMs;
            if (i == WarmUps + runs - 1)
            {
                events = await EventsAsync(since, session, cancellationToken);
            }

            if (measured)
            {
                bare.Add(bareMs);
                none.Add(noneMs);
                open.Add(openMs);
                box.Add(boxMs);
                close.Add(closeMs);
                whole.Add(openMs + boxMs + closeMs);
                gone.Add(goneMs);
                extra.Add(openMs + boxMs + closeMs - noneMs);
            }
        }

        Console.Error.WriteLine();
        table.Note($"deny - none (per run, medians of the differences): {extra.Median:F0} ms = {extra.Median / bare.Median:F2}x the bare docker run ({bare.Median:F0} ms); target <= 0.75x");
        table.Note($"deny's close before the reply: {close.Median:F0} ms (p90 {close.P90:F0}); until removed: {gone.Median:F0} ms (p90 {gone.P90:F0})");
        Console.WriteLine(table.Render());
        Console.WriteLine($"Docker events of the last deny run ({phase}), ms from its open:");
        Console.WriteLine("```");
        Console.WriteLine(events);
        Console.WriteLine("```");
        Console.WriteLine();
    }

    private static async Task RunBoxAsync(IRunSite site, CancellationToken cancellationToken)
    {
        await using var box = await site.CreateBoxAsync(
            new BoxSpec
            {
                Image = TaskOverheadBenchmark.Image,
                Entrypoint = [],
                Command = ["true"],
                User = "65534:65534",
                WorkingDirectory = "/",
                Environment = new Dictionary<string, string>(),
                Limits = new ResourceLimits(256L * 1024 * 1024, 1, 64, 16L * 1024 * 1024),
                Identity = new BoxIdentity("bench"),
            },
            cancellationToken);
        await box.RunAsync(TimeSpan.FromMinutes(1), (_, _) => { }, null, CancellationToken.None, cancellationToken);
    }

    /// <summary>The session's container and network events since <paramref name="since"/>, each as ms from it.</summary>
    private static async Task<string> EventsAsync(DateTimeOffset since, string session, CancellationToken cancellationToken)
    {
        var until = DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var raw = await Shell.RunAsync(
            "docker",
            ["events", "--since", since.AddSeconds(-1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), "--until", until,
             "--format", "{{.TimeNano}} {{.Type}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes \"name\"}} {{index .Actor.Attributes \"sandbox-runner.role\"}} {{index .Actor.Attributes \"" + TaskOverheadBenchmark.BenchLabel + "\"}}"],
            cancellationToken);
        var start = since.ToUnixTimeMilliseconds();
        var networks = new HashSet<string>(StringComparer.Ordinal);
        var lines = new List<string>();
        foreach (var line in raw.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ');
            var ms = long.Parse(f[0], CultureInfo.InvariantCulture) / 1_000_000 - start;
            var ours = line.Contains(session, StringComparison.Ordinal) || (f[1] == "network" && (networks.Contains(f[3]) || line.Contains("sandbox-runner-", StringComparison.Ordinal)));
            if (f[1] == "network" && line.Contains("sandbox-runner-", StringComparison.Ordinal))
            {
                networks.Add(f[3]);
            }

            if (ms >= -50 && ours && f[2] is not ("exec_create" or "exec_start" or "exec_die" or "attach" or "archive-path" or "resize"))
            {
                lines.Add($"{ms,6} {f[1]} {f[2]} {(f.Length > 5 && f[5].Length > 0 ? f[5] : f[1] == "network" ? "" : "task")} {(f[1] == "network" ? f[4] : f[3][..12])}");
            }
        }

        return string.Join('\n', lines);
    }
}
