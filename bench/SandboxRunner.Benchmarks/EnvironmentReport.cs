using System.Globalization;
using Docker.DotNet;

namespace SandboxRunner.Benchmarks;

/// <summary>The images every task of the repository shares, paid once per key (toolchain, setup) or once per run (the checkout).</summary>
internal sealed record SharedDisk(long EnvironmentImage, long SetupLayer, long RunLayer)
{
    public static async Task<SharedDisk> MeasureAsync(DockerClient client, string environmentImage, string setupImage, string runImage, CancellationToken cancellationToken)
    {
        var env = await EnvironmentDisk.ImageSizeAsync(client, environmentImage, cancellationToken);
        var setup = await EnvironmentDisk.ImageSizeAsync(client, setupImage, cancellationToken);
        var run = await EnvironmentDisk.ImageSizeAsync(client, runImage, cancellationToken);
        return new SharedDisk(env, setup - env, run - setup);
    }
}

/// <summary>The environment benchmark's tables.</summary>
internal sealed class EnvironmentReport(InstalledTree installed, TimeSpan lockResolution, string loadBefore, string loadAfter)
{
    public string ColdAndWarm(RunTimes cold, IReadOnlyList<RunTimes> warm)
    {
        var table = new ResultTable("environments: first run (cold) vs later runs (setup reused)");
        table.Section($"first run: toolchain image built, `{NodeRepository.SetupCommand}`, run image, one task (n=1)");
        table.Row("run wall time").Add(cold.Wall);
        table.Row("  environment ready (run start -> task container create)").Add(cold.Prepare);
        table.Row($"    image builds ({cold.ImageBuilds}: base from {NodeRepository.DockerfilePath}, Codex layered on)").Add(cold.ImageBuildMs);
        table.Row("    setup container: create -> committed").Add(cold.SetupMs ?? 0);
        table.Row("    run image: checkout put in -> committed").Add(cold.RunImageMs ?? 0);
        table.Row("  task: container create -> first agent command").Add(cold.Tasks[0].CreateToFirstCommand);
        table.Section($"later runs: setup reused (n={warm.Count})");
        var wall = table.Row("run wall time");
        var ready = table.Row("  environment ready (run start -> task container create)");
        var runImage = table.Row("    run image: checkout put in -> committed");
        var start = table.Row("  task: container create -> first agent command");
        foreach (var run in warm)
        {
            wall.Add(run.Wall);
            ready.Add(run.Prepare);
            runImage.Add(run.RunImageMs ?? 0);
            start.Add(run.Tasks[0].CreateToFirstCommand);
        }

        table.Note(Invariant($"later runs: \"setup reused\" in {warm.Count(r => r.SetupReused)} of {warm.Count}; image builds: {warm.Sum(r => r.ImageBuilds)}; ")
            + Invariant($"setup containers: {warm.Count(r => r.SetupMs is not null)} (the cold run: setup {(cold.SetupReused ? "REUSED, so it was not cold" : "ran")})."));
        table.Note(Invariant($"what a later run does not pay: {(cold.Wall - wall.Median) / 1000:F1} s of the first run's {cold.Wall / 1000:F1} s (medians)."));
        table.Note($"setup installed node_modules: {EnvironmentDisk.Megabytes(installed.ApparentBytes)} (apparent; {EnvironmentDisk.Megabytes(installed.DiskBytes)} on disk), "
            + $"{installed.Files} files; npm's cache in setup's HOME: {EnvironmentDisk.Megabytes(installed.HomeBytes)}. "
            + Invariant($"The lock file was resolved on this machine by `npm install --package-lock-only` in {lockResolution.TotalSeconds:F1} s (not part of any run)."));
        return table.Render();
    }

    /// <summary>Where "environment ready" went: the calls made before the first task's create, heaviest first.</summary>
    public static string PrepareProfile(RunTimes cold, IReadOnlyList<RunTimes> warm)
    {
        static Dictionary<string, (int Count, double Ms)> ByCall(RunTimes run) => run.PrepareCalls
            .GroupBy(c => c.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (g.Count(), g.Sum(c => c.Ms)), StringComparer.Ordinal);
        var first = ByCall(cold);
        var later = warm.Select(ByCall).ToList();
        double LaterMedian(string name) => Median(later.Select(l => (long)Math.Round(l.GetValueOrDefault(name).Ms)));
        string Ms(double ms) => Invariant($"{ms:F0}");
        var names = first.Keys.Union(later.SelectMany(l => l.Keys), StringComparer.Ordinal)
            .Select(n => (Name: n, First: first.GetValueOrDefault(n), Later: LaterMedian(n)))
            .OrderByDescending(n => n.First.Ms + n.Later)
            .ToList();
        var shown = names.Where(n => n.First.Ms >= 50 || n.Later >= 10).ToList();
        var rest = names.Except(shown).ToList();
        List<IReadOnlyList<string>> rows = [.. shown.Select(n => (IReadOnlyList<string>)[n.Name, Ms(n.First.Ms), n.First.Count.ToString(CultureInfo.InvariantCulture), Ms(n.Later)])];
        rows.Add([$"{rest.Count} other kinds of call", Ms(rest.Sum(n => n.First.Ms)), rest.Sum(n => n.First.Count).ToString(CultureInfo.InvariantCulture), Ms(rest.Sum(n => n.Later))]);
        rows.Add(["no engine or git call in flight", Ms(cold.PrepareOutsideCalls), "", Ms(Median(warm.Select(r => (long)Math.Round(r.PrepareOutsideCalls))))]);
        rows.Add(["= environment ready (run start -> first task's create)", Ms(cold.Prepare), "", Ms(Median(warm.Select(r => (long)Math.Round(r.Prepare))))]);
        return EnvironmentDisk.Render(
            "environments: where \"environment ready\" goes (engine and git calls before the first task's create)",
            ["call", "first run ms", "calls", "later runs, median ms"],
            rows,
            ["Calls that overlap (a log follow during a wait) are each counted in full, so the rows can add up to more than the total."]);
    }

    public string TaskStart(Samples bare, Samples bareCodex, IReadOnlyList<RunTimes> warm)
    {
        var table = new ResultTable($"environments: per-task start with the environment ready (n={warm.Count}, interleaved with the bare runs)");
        table.Include(bare);
        table.Include(bareCodex);
        var total = table.Row("runner task: container create -> first agent command");
        var create = table.Row("  engine: Create");
        var uploads = table.Row("  engine: PutArchive x2 (CODEX_HOME, the run's objects pack)");
        var start = table.Row("  engine: Start");
        var first = table.Row("  Start returned -> first command reported (Codex starts, runs it, JSONL via the log follow)");
        foreach (var task in warm.Select(r => r.Tasks[0]))
        {
            total.Add(task.CreateToFirstCommand);
            create.Add(task.Create);
            uploads.Add(task.Uploads);
            start.Add(task.Start);
            first.Add(task.StartedToFirstCommand);
        }

        table.Note(Invariant($"ratio runner task / bare docker run of the setup image: median {total.Median / bare.Median:F2}x, p90 {total.P90 / bare.P90:F2}x (target: within 1.2x)."));
        table.Note("The bare run is the whole `docker run --rm` (CLI start, create, start, `true`, wait, remove); the task's span is\n"
            + "from its create call until the runner heard of the first command, so it leaves out the runner's host checkout\n"
            + "before the create and everything after the command. Parts are medians of each step and do not add up exactly.");
        return table.Render();
    }

    public string AtOnce(RunTimes run, Samples bare, IReadOnlyList<TaskDisk> disks, SharedDisk shared)
    {
        var table = new ResultTable($"environments: {run.Tasks.Count} tasks at once on the same repository (one run, concurrency {run.Tasks.Count})");
        table.Include(bare);
        var create = table.Row("container create -> first agent command");
        var fromRun = table.Row("run start -> first agent command");
        foreach (var task in run.Tasks)
        {
            create.Add(task.CreateToFirstCommand);
            fromRun.Add(task.RunStartToFirstCommand);
        }

        table.Note(Invariant($"max: container create -> first command {create.Max:F0} ms; run start -> first command {fromRun.Max:F0} ms ")
            + Invariant($"(the run's environment was ready {run.Prepare:F0} ms after its start). Run wall time {run.Wall / 1000:F1} s."));
        table.Note(Invariant($"ratio task start / bare docker run, both {run.Tasks.Count} at once: median {create.Median / bare.Median:F2}x, max {create.Max / bare.Max:F2}x."));
        table.Note($"load average before the benchmark: {loadBefore}; after: {loadAfter} (2 cores, shared).");

        string[] Cells(Func<TaskDisk, long> of) =>
            [EnvironmentDisk.Megabytes((long)Median(disks.Select(of))), EnvironmentDisk.Megabytes(disks.Max(of)), EnvironmentDisk.Megabytes(disks.Sum(of))];
        var volumesKnown = disks.All(d => d.Volumes is not null);
        List<IReadOnlyList<string>> rows =
        [
            ["container writable layer (`docker ps -s`)", .. Cells(d => d.WritableLayer)],
            [volumesKnown ? "its volumes (CODEX_HOME, objects pack)" : "its volumes: not measurable (engine's folders not on this machine)", .. Cells(d => d.Volumes ?? 0)],
            ["host task folder (checkout for the harvest, CODEX_HOME)", .. Cells(d => d.HostFolder)],
            ["= per task", .. Cells(d => d.Total)],
            ["shared, once per run: run image layer (the checkout)", "", "", EnvironmentDisk.Megabytes(shared.RunLayer)],
            ["shared, once per lock file: setup layer (node_modules, npm cache)", "", "", EnvironmentDisk.Megabytes(shared.SetupLayer)],
            ["shared, once per toolchain: environment image", "", "", EnvironmentDisk.Megabytes(shared.EnvironmentImage)],
        ];
        var disk = EnvironmentDisk.Render(
            $"environments: disk of {disks.Count} tasks at once, measured while all of them ran",
            ["", "per task, median", "per task, max", $"all {disks.Count}"],
            rows,
            [$"{disks.Count} tasks' own disk: {EnvironmentDisk.Megabytes(disks.Sum(d => d.Total))}, besides the shared layers; a copy of node_modules per task would be "
                + Invariant($"{disks.Count} x {EnvironmentDisk.Megabytes(installed.ApparentBytes)} = {EnvironmentDisk.Megabytes(disks.Count * installed.ApparentBytes)}.")]);
        return table.Render() + "\n" + disk;
    }

    private static double Median(IEnumerable<long> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2.0;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
