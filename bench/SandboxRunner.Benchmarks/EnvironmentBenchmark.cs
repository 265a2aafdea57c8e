using System.Diagnostics;
using Docker.DotNet;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// What an environment costs: a Node repository whose setup installs over 100 MB, with its toolchain image
/// built from a Dockerfile in the repository and the fake Codex as where the Codex binary comes from.
/// A cold first run against later runs that reuse the setup; a task's start (container create to its first
/// agent command) against a bare <c>docker run</c> of the setup image, interleaved run by run; and eight
/// tasks at once: their disk and their starts.
/// </summary>
internal static class EnvironmentBenchmark
{
    private const int RunCount = 12;
    private const int WarmUps = 2;
    private const int AtOnce = 8;

    /// <summary>Every task's first step: the fake Codex reports it the moment it ran, which is the start being measured.</summary>
    private const string FirstStep = "@run 0 true";

    private const string ReleaseFile = "/codex-home/release";

    /// <summary>Holds a task after its first command until the benchmark has measured the disk (five minutes at most).</summary>
    private const string WaitForRelease = $"@run 0 for i in $(seq 1200); do [ -e {ReleaseFile} ] && exit 0; sleep 0.25; done; exit 1";

    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        using var bench = BenchSession.Open();
        var (session, scratch, docker, client) = (bench.Id, bench.Scratch, bench.Docker, bench.Client);
        var (engine, timing, gitLog, git) = (bench.Docker, bench.Timing, bench.GitLog, bench.Git);
        var observer = new RunObserver();
        var seen = new Recording(timing, gitLog, observer);
        Runner? runner = null;
        var load = Load();
        // Others rebuild the shared fake Codex tag on this engine; a new Codex image means a new environment
        // image and so a new setup key, which would turn a "reused" run cold mid-benchmark. A session tag pins it.
        var codexImage = $"sandbox-runner-bench/fake-codex:{session}";
        try
        {
            await Shell.RunAsync("docker", ["tag", TaskOverheadBenchmark.Image, codexImage], cancellationToken);
            Console.Error.WriteLine("environments: generating the repository and its lock file (npm on this machine)");
            var repoPath = Path.Combine(scratch, "repo");
            var npm = await NodeRepository.CreateAsync(repoPath, session, cancellationToken);
            var host = await HostRepository.OpenAsync(git, repoPath, cancellationToken);
            var config = RunnerConfig.Default with
            {
                Image = codexImage,
                CodexModel = "gpt-5.5",
                AllowedCommands = [],
                DefaultAllowedPaths = ["**"],
                // No egress gateway: its per-run cost is task-overhead's (c) - (c2); here only the environment's shows.
                NetworkPolicy = NetworkPolicy.None,
                DefaultConcurrency = AtOnce,
                Environment = NodeRepository.Environment,
            };
            runner = new Runner(host, config, engine.Backend, git, NullLoggerFactory.Instance, hostEnvironment: _ => null);

            Console.Error.WriteLine("environments: cold run (toolchain image, npm ci, one task; minutes)");
            var cold = await RunOnceAsync(runner, seen, [NewTask("cold", FirstStep, "@message done")], null, cancellationToken);
            var setupImage = observer.SetupImage ?? throw new InvalidOperationException("the cold run named no setup image in its progress");
            var installed = await EnvironmentDisk.NodeModulesAsync(setupImage, session, cancellationToken);

            Console.Error.Write($"environments: {WarmUps} + {RunCount} runs with the setup reused, each after a bare docker run ");
            var bare = new Samples($"bare `docker run --rm <setup image> true`  [CLI]");
            var bareCodex = new Samples($"bare `docker run --rm {TaskOverheadBenchmark.Image} true`  [CLI]  (pinned as {codexImage})");
            var warm = new List<RunTimes>();
            for (var i = 0; i < WarmUps + RunCount; i++)
            {
                var measured = i >= WarmUps;
                Console.Error.Write(measured ? "." : "w");
                var a = await Timing.TimeAsync(() => TaskOverheadBenchmark.DockerRunCliAsync(session, setupImage, cancellationToken));
                var b = await Timing.TimeAsync(() => TaskOverheadBenchmark.DockerRunCliAsync(session, codexImage, cancellationToken));
                var run = await RunOnceAsync(runner, seen, [NewTask($"warm-{i}", FirstStep, "@message done")], null, cancellationToken);
                if (measured)
                {
                    bare.Add(a);
                    bareCodex.Add(b);
                    warm.Add(run);
                }
            }

            Console.Error.WriteLine();
            Console.Error.WriteLine($"environments: {AtOnce} bare docker runs at once, then {AtOnce} tasks at once, measuring their disk while they run");
            var bareTogether = new Samples($"{AtOnce} bare `docker run --rm <setup image> true` at once, each  [CLI]");
            var bareRuns = Enumerable.Range(0, AtOnce).Select(_ => Timing.TimeAsync(() => TaskOverheadBenchmark.DockerRunCliAsync(session, setupImage, cancellationToken)));
            foreach (var time in await Task.WhenAll(bareRuns))
            {
                bareTogether.Add(time);
            }

            var tasks = Enumerable.Range(1, AtOnce)
                .Select(i => NewTask($"at-once-{i}", FirstStep, $"@write notes/task-{i}.txt written by task {i}", WaitForRelease, "@message done"))
                .ToList();
            SharedDisk? shared = null;
            IReadOnlyList<TaskDisk> disks = [];
            var together = await RunOnceAsync(runner, seen, tasks, async containers =>
            {
                // Let each task finish its write and reach its wait step.
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                var runId = timing.Specs[containers.Values.First()].Labels[Labels.Run];
                disks = await EnvironmentDisk.TasksAsync(client, containers, t => TaskTreeLayout.TaskFolder(runner.Repository, runId, t), cancellationToken);
                var envImage = timing.Specs.Values.First(s => s.Labels.GetValueOrDefault(Labels.Task) == RunTimes.SetupRole).Image;
                shared = await SharedDisk.MeasureAsync(client, envImage, setupImage, timing.Specs[containers.Values.First()].Image, cancellationToken);
            }, cancellationToken);

            var report = new EnvironmentReport(installed, npm, load, Load());
            Console.WriteLine(report.ColdAndWarm(cold, warm));
            Console.WriteLine(EnvironmentReport.PrepareProfile(cold, warm));
            Console.WriteLine(report.TaskStart(bare, bareCodex, warm));
            Console.WriteLine(report.AtOnce(together, bareTogether, disks, shared ?? throw new InvalidOperationException("the tasks ended before their disk was measured")));
        }
        finally
        {
            runner?.Dispose();
            await CleanUpAsync(docker, client, timing, session, runner is null ? null : Labels.ScopeOf(runner.Repository.CommonDir));
            // Only the session's tag: the image stays under its own name (unless rebuilt meanwhile, when this frees the old one).
            await docker.RemoveImageAsync(codexImage, CancellationToken.None);
            TreeDeletion.Delete(scratch);
        }
    }

    private static TaskRequest NewTask(string id, params string[] steps) => new() { TaskId = id, Prompt = string.Join('\n', steps) };

    /// <summary>
    /// One run, timed: <paramref name="whileHeld"/> (given each task's container) runs once every task has
    /// reported its first command, and then every task container is released from its wait step.
    /// </summary>
    private static async Task<RunTimes> RunOnceAsync(
        Runner runner, Recording seen, IReadOnlyList<TaskRequest> tasks,
        Func<IReadOnlyDictionary<string, string>, Task>? whileHeld, CancellationToken cancellationToken)
    {
        var (timing, gitLog, observer) = seen;
        timing.Clear();
        gitLog.Clear();
        observer.Clear();
        var ids = tasks.Select(t => t.TaskId ?? throw new ArgumentException("every benchmark task has an id", nameof(tasks))).ToList();
        var firstCommands = observer.FirstCommandsAsync(tasks.Count);
        var start = Stopwatch.GetTimestamp();
        var running = runner.RunAsync(new RunRequest { Tasks = tasks }, observer, cancellationToken);
        if (whileHeld is not null && await Task.WhenAny(firstCommands, running) == firstCommands)
        {
            var containers = timing.Specs
                .Where(s => timing.Created.ContainsKey(s.Key) && ids.Contains(s.Value.Labels.GetValueOrDefault(Labels.Task) ?? ""))
                .ToDictionary(s => s.Value.Labels[Labels.Task], s => s.Key, StringComparer.Ordinal);
            try
            {
                await whileHeld(containers);
            }
            finally
            {
                foreach (var id in containers.Values)
                {
                    await Shell.RunAsync("docker", ["exec", id, "touch", ReleaseFile], cancellationToken);
                }
            }
        }

        var result = await running;
        var end = Stopwatch.GetTimestamp();
        if (result.Results.FirstOrDefault(r => r.Status != Runs.TaskStatus.Success) is { } failed)
        {
            throw new InvalidOperationException($"task {failed.TaskId} ended {failed.Status.Wire()}: {failed.Summary}; {failed.NotesForManager}");
        }

        return RunTimes.Of(start, end, timing.Events, gitLog.Events, timing.Specs, observer, ids);
    }

    /// <summary>Removes this session's containers, the run images a failed run may have left, and the images keyed to this session alone.</summary>
    private static async Task CleanUpAsync(DockerEngine docker, DockerClient client, EngineCallRecorder timing, string session, string? scope)
    {
        var scoped = scope is null ? [] : await docker.ListContainersAsync(Labels.Scope, scope, CancellationToken.None);
        await TaskOverheadBenchmark.RemoveDockerObjectsAsync(docker, client, session, timing.Created.Keys.Concat(scoped), timing.CreatedNetworks.Keys);
        if (scope is null)
        {
            return;
        }

        // The session line in the Dockerfile keys every image this benchmark built to it alone (labelled with
        // its repository's scope), so none can serve as a cache later. Newest first: children before their parents.
        var images = await docker.ListImagesAsync(LabelSelector.Of(Labels.Scope, scope), CancellationToken.None);
        var removed = new List<string>();
        foreach (var tag in images.OrderByDescending(i => i.Created).SelectMany(i => i.Tags))
        {
            var outcome = await docker.RemoveImageAsync(tag, CancellationToken.None);
            removed.Add(outcome.Deleted ? tag : $"{tag} (kept: {outcome.Refusal})");
        }

        if (removed.Count > 0)
        {
            Console.Error.WriteLine($"environments: removed this session's images: {string.Join(", ", removed)}");
        }

        Console.Error.WriteLine("environments: other environment images (from tests or earlier sessions) stay as the runner's cache; "
            + "`sandbox-runner image ls` lists them and `sandbox-runner image prune` removes the unused ones.");
    }

    /// <summary>What the benchmark sees of a run from outside: its engine calls, its git calls and its progress.</summary>
    private sealed record Recording(EngineCallRecorder Engine, GitCallRecorder Git, RunObserver Progress);

    private static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
