using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Models = Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Runs;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// Issue 25's figures on a real two-node swarm started as the integration tests' SwarmFixture starts it (a registry and
/// two dockerds in containers, never the local engine's swarm): one no-op task's cost on the cluster against the local
/// backend (same image, same fake-Codex task, network none), split into the box's phases; and the wall time of 32 tasks
/// that each wait 5 s with max_tasks_per_node 4 on two nodes against one (the worker drained), with where the CPU went
/// (<see cref="SwarmCpu"/>). <c>--pin-nodes</c> gives each node a core of its own (manager core 0, worker core 1; the
/// runner process is not pinned), so two nodes have twice one node's CPU as separate machines would.
/// </summary>
internal static partial class SwarmBenchmark
{
    private const string Image = TaskOverheadBenchmark.Image;
    private const string DindImage = "sandbox-runner/dind:dev";
    private const string RegistryImage = "sandbox-runner/registry:dev";
    private const int RunCount = 8;
    private const int WarmUps = 2;
    private const int WaitTasks = 32;

    public static async Task RunAsync(bool pinNodes, CancellationToken cancellationToken)
    {
        var session = Guid.NewGuid().ToString("N")[..10];
        var scratch = Path.Combine(Path.GetTempPath(), $"sr-bench-swarm-{session}");
        var containers = new List<string>();
        var localTags = new List<string>();
        var git = new GitCli(NullLogger<GitCli>.Instance);
        try
        {
            var clock = Stopwatch.StartNew();
            var cluster = await StartClusterAsync(session, containers, localTags, pinNodes, cancellationToken);
            Console.WriteLine($"two-node swarm ready in {clock.Elapsed.TotalSeconds:F0} s (registry {cluster.Registry}, manager {cluster.Manager.Endpoint}, worker {cluster.WorkerNode}); {(pinNodes ? "nodes pinned: manager dind to core 0, worker dind to core 1 (their boxes with them), the runner unpinned" : "nodes not pinned")}");
            Console.WriteLine();

            var repoPath = await Repositories.CreateSmallAsync(Path.Combine(scratch, "repo"), cancellationToken);
            var host = await HostRepository.OpenAsync(git, repoPath, cancellationToken);
            var config = RunnerConfig.Default with
            {
                Image = Image,
                CodexModel = "gpt-5.5",
                NetworkPolicy = NetworkPolicy.None,
                AllowedCommands = [],
                DefaultConcurrency = 8,
                MaxTasksPerRun = WaitTasks,
            };

            await using var local = new DockerBackend(NullLogger.Instance, EngineConnection.FromProcess());
            await using var swarm = new SwarmBackend(new WarmPoolLog(), cluster.Manager, new SwarmOptions(cluster.Registry, MaxTasksPerNode: 4, WarmBoxes: SwarmOptions.DefaultWarmBoxes));
            var localRunner = new Runner(host, config, local, git, NullLoggerFactory.Instance, hostEnvironment: _ => null);
            var swarmConfig = config with { Backend = BackendKind.Swarm, Registry = cluster.Registry, MaxTasksPerNode = 4 };
            var swarmRunner = new Runner(host, swarmConfig, swarm, git, NullLoggerFactory.Instance, hostEnvironment: _ => null);

            await PerTaskAsync(localRunner, swarmRunner, local, swarm, cluster.Manager, session, cancellationToken);
            // Each half with a backend of its own: no warm box from the other half or the per-task runs (a pool left by
            // the two-node half would hand the one-node half's first wave warm boxes).
            await ThroughputAsync(
                () =>
                {
                    var backend = new SwarmBackend(new WarmPoolLog(), cluster.Manager, new SwarmOptions(cluster.Registry, MaxTasksPerNode: 4, WarmBoxes: SwarmOptions.DefaultWarmBoxes));
                    return (backend, new Runner(host, swarmConfig, backend, git, NullLoggerFactory.Instance, hostEnvironment: _ => null));
                },
                cluster,
                cancellationToken);
        }
        finally
        {
            foreach (var id in containers)
            {
                await Quietly(["rm", "-f", "-v", id]);
            }

            foreach (var tag in localTags)
            {
                await Quietly(["rmi", "--no-prune", tag]);
            }

            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
    }

    private static async Task PerTaskAsync(Runner localRunner, Runner swarmRunner, ITaskBackend local, ITaskBackend swarm, EngineConnection managerConnection, string session, CancellationToken cancellationToken)
    {
        var table = new ResultTable($"swarm: one no-op task at a time, cluster vs local (N={RunCount} after {WarmUps} warm-up runs, interleaved)");
        var rows = new Dictionary<string, Samples>(StringComparer.Ordinal);
        Samples Row(string name) => rows.TryGetValue(name, out var s) ? s : rows[name] = table.Row(name);
        var scope = new BoxScope("bench-swarm-" + session);
        var first = new Dictionary<string, (TimeSpan Elapsed, string Load)>(StringComparer.Ordinal);
        for (var i = 0; i < WarmUps + RunCount; i++)
        {
            var measured = i >= WarmUps;
            Console.Error.Write(measured ? "." : "w");
            foreach (var (name, runner, backend) in new[] { ("local", localRunner, local), ("swarm", swarmRunner, swarm) })
            {
                using var recorder = new PhaseRecorder();
                var task = Stopwatch.StartNew();
                var result = (await runner.RunAsync(new RunRequest { Tasks = [new TaskRequest { TaskId = "noop", Prompt = "@message done" }] }, null, cancellationToken)).Results.Single();
                task.Stop();
                var runPhases = recorder.Take();
                first.TryAdd(name, (task.Elapsed, Load()));
                if (result.Status != Runs.TaskStatus.Success)
                {
                    throw new InvalidOperationException($"the no-op task on {name} ended {result.Status}: {result.NotesForManager}");
                }

                var phases = await BoxPhasesAsync(backend, scope, $"b{i}", cancellationToken);
                if (backend is SwarmBackend swarmBackend)
                {
                    phases.AddRange(await BareJobAsync(swarmBackend, managerConnection, session, null, cancellationToken));
                    phases.AddRange(await BareJobAsync(swarmBackend, managerConnection, session, swarmBackend.ParkingNetwork, cancellationToken));
                    var look = Stopwatch.StartNew();
                    await swarmBackend.Nodes.ListAsync(cancellationToken);
                    phases.Add(("bare: the placement look (nodes, services, tasks)", look.Elapsed));
                }

                if (measured)
                {
                    Row($"{name}: Runner.RunAsync, 1 no-op task, network none").Add(task.Elapsed);
                    foreach (var (phase, ms, _) in runPhases)
                    {
                        Row($"{name}:   run phase: {phase}").Add(TimeSpan.FromMilliseconds(ms));
                    }

                    foreach (var (phase, elapsed) in phases)
                    {
                        Row(phase.StartsWith("bare", StringComparison.Ordinal) ? $"{name}: {phase}" : $"{name}: box {phase} (cmd true)").Add(elapsed);
                    }
                }
            }
        }

        Console.Error.WriteLine();
        var ratio = rows["swarm: Runner.RunAsync, 1 no-op task, network none"].Median / rows["local: Runner.RunAsync, 1 no-op task, network none"].Median;
        table.Note(string.Create(CultureInfo.InvariantCulture, $"cluster/local per-task (medians, steady state: the swarm's boxes warm): {ratio:F2}x (target <= 1.3x); load average {Load()}\n"));
        // The very first task of each backend: on the swarm its shape has no warm box yet (a cold create), locally the engine is as always.
        table.Note(string.Create(
            CultureInfo.InvariantCulture,
            $"first task (swarm cold): local {first["local"].Elapsed.TotalMilliseconds:F0} ms (load {first["local"].Load}), swarm {first["swarm"].Elapsed.TotalMilliseconds:F0} ms (load {first["swarm"].Load}): {first["swarm"].Elapsed / first["local"].Elapsed:F2}x\n"));
        Console.WriteLine(table.Render());
    }

    /// <summary>One box running <c>true</c> through the backend's seam, timed by phase: site, create (placed and its container made), run, dispose.</summary>
    private static async Task<List<(string Phase, TimeSpan Elapsed)>> BoxPhasesAsync(ITaskBackend backend, BoxScope scope, string run, CancellationToken cancellationToken)
    {
        var phases = new List<(string, TimeSpan)>();
        var clock = Stopwatch.StartNew();
        TimeSpan Lap()
        {
            var elapsed = clock.Elapsed;
            clock.Restart();
            return elapsed;
        }

        var site = await backend.OpenRunSiteAsync(new RunSiteSpec(scope, run, NetworkIntent.None), cancellationToken);
        phases.Add(("open site", Lap()));
        try
        {
            var box = await site.CreateBoxAsync(new BoxSpec
            {
                Image = Image,
                Entrypoint = [],
                Command = ["true"],
                User = "65534:65534",
                WorkingDirectory = "/",
                Environment = new Dictionary<string, string>(),
                Limits = new ResourceLimits(MemoryBytes: 256L * 1024 * 1024, Cpus: 0.5, Pids: 64, TmpBytes: 8L * 1024 * 1024),
                Identity = new BoxIdentity("noop"),
            }, cancellationToken);
            phases.Add(("create", Lap()));
            try
            {
                await box.RunAsync(TimeSpan.FromMinutes(2), (_, _) => { }, null, cancellationToken, cancellationToken);
                phases.Add(("run to exit", Lap()));
            }
            finally
            {
                await box.DisposeAsync();
                phases.Add(("dispose", Lap()));
            }
        }
        finally
        {
            await site.DisposeAsync();
            await backend.RemoveRunAsync(scope, run, cancellationToken);
            phases.Add(("close site + remove run", Lap()));
        }

        return phases;
    }

    /// <summary>
    /// Swarm's own floor, no runner code: a replicated job running <c>true</c> created through the API and its task
    /// polled every 20 ms, timed to the task's node assignment, to its container running or done, and to its removal.
    /// </summary>
    private static async Task<List<(string Phase, TimeSpan Elapsed)>> BareJobAsync(SwarmBackend backend, EngineConnection manager, string session, string? network, CancellationToken cancellationToken)
    {
        var row = network is null ? "bare job" : "bare job on the parking overlay";
        using var client = manager.CreateClient();
        var image = await ((SwarmImages)backend.Images).PublishAsync(Image, cancellationToken);
        var clock = Stopwatch.StartNew();
        var created = await client.Swarm.CreateServiceAsync(new Models.ServiceCreateParameters
        {
            Service = new Models.ServiceSpec
            {
                Name = $"bench-bare-{session}-{Guid.NewGuid():N}"[..40],
                Labels = new Dictionary<string, string> { [TaskOverheadBenchmark.BenchLabel] = session },
                Mode = new Models.ServiceMode { ReplicatedJob = new Models.ReplicatedJob { MaxConcurrent = 1, TotalCompletions = 1 } },
                TaskTemplate = new Models.TaskSpec
                {
                    ContainerSpec = new Models.ContainerSpec { Image = image, Command = ["true"], User = "65534:65534" },
                    RestartPolicy = new Models.SwarmRestartPolicy { Condition = "none", MaxAttempts = 0 },
                    Networks = network is null ? [] : [new Models.NetworkAttachmentConfig { Target = network }],
                },
            },
        }, cancellationToken);
        var phases = new List<(string, TimeSpan)> { ($"{row}: service create call", clock.Elapsed) };
        var assigned = false;
        while (true)
        {
            var task = (await client.Tasks.ListAsync(new Models.TasksListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [created.ID!] = true } },
            }, cancellationToken)).FirstOrDefault();
            if (!assigned && !string.IsNullOrEmpty(task?.NodeID))
            {
                assigned = true;
                phases.Add(($"{row}: create to node assigned", clock.Elapsed));
            }

            if (task?.Status?.State is Models.TaskState.Running or Models.TaskState.Complete or Models.TaskState.Failed)
            {
                phases.Add(($"{row}: create to container running or done", clock.Elapsed));
                break;
            }

            await Task.Delay(20, cancellationToken);
        }

        var removing = Stopwatch.StartNew();
        await client.Swarm.RemoveServiceAsync(created.ID!, cancellationToken);
        phases.Add(($"{row}: service remove call", removing.Elapsed));
        return phases;
    }

    private sealed record Cluster(string Registry, EngineConnection Manager, string WorkerNode, string ManagerContainer, string WorkerContainer, bool Pinned);

    /// <summary>The fixture's cluster with the docker CLI: registry, manager and worker dinds, the image pushed and pulled, the worker joined and named by its engine.</summary>
    private static async Task<Cluster> StartClusterAsync(string session, List<string> containers, List<string> localTags, bool pinNodes, CancellationToken cancellationToken)
    {
        async Task<(string Id, string Port, string Ip)> StartAsync(string image, string port, int? core)
        {
            List<string> args = ["run", "-d", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", "-p", $"127.0.0.1::{port}"];
            args.AddRange(image == DindImage
                ? ["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                    "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--mount", "type=volume,target=/var/lib/docker", "--entrypoint", "sh"]
                : ["--mount", "type=volume,target=/var/lib/docker-registry"]);
            args.AddRange(pinNodes && core is { } c ? ["--cpuset-cpus", c.ToString(CultureInfo.InvariantCulture)] : []);
            args.AddRange(image == DindImage ? [image, "-c", SwarmCpu.NodeEntrypoint] : [image]);
            var id = (await Docker(args, cancellationToken)).Trim();
            containers.Add(id);
            var mapped = (await Docker(["port", id, port], cancellationToken)).Trim().Split('\n')[0];
            var ip = (await Docker(["inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", id], cancellationToken)).Trim();
            return (id, mapped[(mapped.LastIndexOf(':') + 1)..], ip);
        }

        var registry = await StartAsync(RegistryImage, "5000", core: null);
        var manager = await StartAsync(DindImage, "2375", core: 0);
        var worker = await StartAsync(DindImage, "2375", core: 1);
        var registryName = $"localhost:{registry.Port}";
        string[] M(params string[] a) => ["-H", $"tcp://127.0.0.1:{manager.Port}", .. a];
        string[] W(params string[] a) => ["-H", $"tcp://127.0.0.1:{worker.Port}", .. a];

        await UntilAsync(() => Docker(["exec", registry.Id, "true"], cancellationToken), "the registry");
        var inRegistry = $"{registryName}/{Image}";
        await Docker(["tag", Image, inRegistry], cancellationToken);
        localTags.Add(inRegistry);
        await UntilAsync(() => Docker(["push", inRegistry], cancellationToken), "pushing to the registry");
        await UntilAsync(() => Docker(M("info"), cancellationToken), "the manager's dockerd");
        await UntilAsync(() => Docker(W("info"), cancellationToken), "the worker's dockerd");
        foreach (var node in new[] { manager.Id, worker.Id })
        {
            await Docker(["exec", "-d", node, "socat", $"TCP-LISTEN:{registry.Port},fork,reuseaddr,bind=127.0.0.1", $"TCP:{registry.Ip}:5000"], cancellationToken);
        }

        await Docker(M("swarm", "init", "--advertise-addr", manager.Ip, "--dispatcher-heartbeat", "1s"), cancellationToken);
        var token = (await Docker(M("swarm", "join-token", "-q", "worker"), cancellationToken)).Trim();
        await Docker(W("swarm", "join", "--token", token, "--advertise-addr", worker.Ip, $"{manager.Ip}:2377"), cancellationToken);
        var workerNode = (await Docker(W("info", "-f", "{{.Name}}"), cancellationToken)).Trim();
        await Docker(M("node", "update", "--label-add", $"{SwarmOptions.EngineLabel}=tcp://127.0.0.1:{worker.Port}/", workerNode), cancellationToken);

        // The manager holds the image under its own name, as a runner's engine holds what it built; the worker pulls it once.
        await UntilAsync(() => Docker(M("pull", inRegistry), cancellationToken), "the manager's pull");
        await Docker(M("tag", inRegistry, Image), cancellationToken);
        var managerConnection = new EngineConnection(new Uri($"tcp://127.0.0.1:{manager.Port}"));
        await using (var backend = new SwarmBackend(NullLogger.Instance, managerConnection, new SwarmOptions(registryName)))
        {
            var published = await ((SwarmImages)backend.Images).PublishAsync(Image, cancellationToken);
            await UntilAsync(() => Docker(W("pull", published), cancellationToken), "the worker's pull");
        }

        await UntilAsync(
            async () =>
            {
                var state = (await Docker(M("node", "inspect", "-f", "{{.Status.State}}", workerNode), cancellationToken)).Trim();
                return state == "ready" ? state : throw new InvalidOperationException($"worker {state}");
            },
            "the worker's readiness");
        return new Cluster(registryName, managerConnection, workerNode, manager.Id, worker.Id, pinNodes);
    }

    private static async Task UntilAsync(Func<Task<string>> attempt, string what)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                await attempt();
                return;
            }
            catch (InvalidOperationException) when (i < 120)
            {
                await Task.Delay(500);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidOperationException($"{what} was not ready within 60 s: {e.Message}", e);
            }
        }
    }

    private static Task<string> Docker(IEnumerable<string> args, CancellationToken cancellationToken) => Shell.RunAsync("docker", args, cancellationToken);

    private static async Task Quietly(IEnumerable<string> args)
    {
        try
        {
            await Shell.RunAsync("docker", args, CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // Cleanup is best effort: what could not be removed carries the bench label.
        }
    }

    /// <summary>The warm pool's own lines (taken, warmed, failed) on stderr, so a figure says whether its tasks were warm.</summary>
    private sealed class WarmPoolLog : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = formatter(state, exception);
            if (line.Contains("warm", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss.fff}] {line}");
            }
        }
    }
}
