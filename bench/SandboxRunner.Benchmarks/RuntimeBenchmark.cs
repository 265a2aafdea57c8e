using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using ContainerSpec = SandboxRunner.Boxes.Docker.ContainerSpec;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// What gVisor costs a task (issue 27): each step under runc and under runsc, interleaved run by run so drift on a
/// shared machine hits both alike. Starting a container (bare, and with the task's hardened spec), the real Codex
/// binary loading through the sealed init, a whole runner task that does nothing (network none and deny), and one
/// whose agent runs the commands an honest session starts with (git status, git log, a grep over the tree).
/// </summary>
internal static class RuntimeBenchmark
{
    private const int RunCount = 15;
    private const int WarmUps = 3;
    private static readonly string[] Runtimes = ["runc", "runsc"];

    private const string Work =
        "@run 0 git status --short && git log --oneline -1 && grep -rn line src | wc -l && ls -la src >/dev/null\n" +
        "@write src/bench.txt bench\\n\n@message done";

    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        using var bench = BenchSession.Open();
        var (session, scratch, docker, client) = (bench.Id, bench.Scratch, bench.Docker, bench.Client);
        var (engine, timing, git) = (bench.Docker, bench.Timing, bench.Git);
        var runners = new List<Runner>();
        try
        {
            var available = await docker.RuntimesAsync(cancellationToken);
            if (available.Find("runsc") is null)
            {
                Console.WriteLine("## runtime: skipped: the engine has no runsc runtime (bash .ci/setup-gvisor registers it)\n");
                return;
            }

            var repoPath = await Repositories.CreateSmallAsync(Path.Combine(scratch, "repo"), cancellationToken);
            var host = await HostRepository.OpenAsync(git, repoPath, cancellationToken);
            var codexImage = ImageRecipe.Codex(RunnerConfig.DefaultCodexVersion).Tag;
            var hasCodex = await docker.ImageExistsAsync(codexImage, cancellationToken);

            var table = new ResultTable($"runtime: runc against runsc (gVisor), one container or task at a time (N={RunCount} after {WarmUps} warm-up runs, interleaved)");
            var steps = new List<(string Name, Func<string, Task> Step)>
            {
                ("docker run --rm fake-codex true [CLI]", runtime => Shell.RunAsync("docker", ["run", "--rm", "--runtime", runtime, "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", TaskOverheadBenchmark.Image, "true"], cancellationToken)),
                ("Sandbox, task spec, cmd true", runtime => SandboxAsync(engine, SandboxSpec(scratch, host, session, TaskOverheadBenchmark.Image, ["true"]) with { Runtime = runtime }, cancellationToken)),
            };
            if (hasCodex)
            {
                steps.Add(("Sandbox, Codex image, sealed init, codex --version", runtime => SandboxAsync(
                    engine,
                    (SandboxSpec(scratch, host, session, codexImage, ["codex", "--version"]) with { Runtime = runtime }).Sealed(ImageRecipe.SealedInit, undumpable: true),
                    cancellationToken)));
            }

            foreach (var (policy, name) in new[] { (NetworkPolicy.None, "none"), (NetworkPolicy.Deny, "deny") })
            {
                var byRuntime = Runtimes.ToDictionary(r => r, r => NewRunner(runners, host, engine, git, policy, r));
                steps.Add(($"runner task \"do nothing\", network {name}", runtime => RunTaskAsync(byRuntime[runtime], "do nothing", cancellationToken)));
            }

            var working = Runtimes.ToDictionary(r => r, r => NewRunner(runners, host, engine, git, NetworkPolicy.None, r));
            steps.Add(("runner task: git status, git log, grep, ls, a write", runtime => RunTaskAsync(working[runtime], Work, cancellationToken)));

            var rows = steps.ToDictionary(s => s.Name, s => Runtimes.ToDictionary(r => r, r => table.Row($"{s.Name} [{r}]")));
            for (var i = 0; i < WarmUps + RunCount; i++)
            {
                var measured = i >= WarmUps;
                Console.Error.Write(measured ? "." : "w");
                foreach (var (name, step) in steps)
                {
                    foreach (var runtime in Runtimes)
                    {
                        var elapsed = await Timing.TimeAsync(() => step(runtime));
                        if (measured)
                        {
                            rows[name][runtime].Add(elapsed);
                        }
                    }
                }
            }

            Console.Error.WriteLine();
            foreach (var (name, byRuntime) in rows)
            {
                table.Note(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: runsc - runc = {byRuntime["runsc"].Median - byRuntime["runc"].Median:+0.0;-0.0} ms ({byRuntime["runsc"].Median / byRuntime["runc"].Median:F2}x)\n"));
            }

            table.Note($"\nrunsc: {Describe(available.Find("runsc")!)}; runc: {Describe(available.Find("runc")!)}. The runner tasks use the fake Codex on a\n"
                + "five-file repository; 'do nothing' exits at once, the last row's agent runs one shell command line and writes a file.\n");
            Console.WriteLine(table.Render());
        }
        finally
        {
            foreach (var runner in runners)
            {
                runner.Dispose();
            }

            await TaskOverheadBenchmark.RemoveDockerObjectsAsync(docker, client, session, timing.Created.Keys, timing.CreatedNetworks.Keys);
            TreeDeletion.Delete(scratch);
        }
    }

    private static string Describe(EngineRuntime runtime) => $"{runtime.Path ?? runtime.Name}{string.Concat(runtime.Arguments.Select(a => " " + a))}";

    private static Runner NewRunner(List<Runner> runners, HostRepository host, IContainerEngine engine, GitCli git, NetworkPolicy policy, string runtime)
    {
        var config = RunnerConfig.Default with
        {
            Image = TaskOverheadBenchmark.Image, CodexModel = "gpt-5.5", AllowedCommands = [], DefaultAllowedPaths = ["**"], NetworkPolicy = policy, Runtime = runtime,
        };
        var runner = new Runner(host, config, engine.Backend, git, NullLoggerFactory.Instance, hostEnvironment: _ => null);
        runners.Add(runner);
        return runner;
    }

    private static async Task RunTaskAsync(Runner runner, string prompt, CancellationToken cancellationToken)
    {
        var result = (await runner.RunAsync(new RunRequest { Tasks = [new TaskRequest { TaskId = "bench", Prompt = prompt }] }, progress: null, cancellationToken)).Results.Single();
        if (result.Status != SandboxRunner.Runs.TaskStatus.Success)
        {
            throw new InvalidOperationException($"the task did not succeed under {result.Runtime}: {result.Status}, {result.NotesForManager}");
        }
    }

    private static async Task SandboxAsync(IContainerEngine engine, ContainerSpec spec, CancellationToken cancellationToken)
    {
        // The runner's own box (Boxes/Docker's DockerTaskBox), over the container this spec makes.
        await using var sandbox = new DockerTaskBox((DockerBackend)engine.Backend, await engine.CreateAsync(spec, cancellationToken), null, null);
        var exit = await sandbox.RunAsync(TimeSpan.FromSeconds(120), (_, _) => { }, null, CancellationToken.None, cancellationToken);
        if (exit.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', spec.Command)} exited with {exit.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"} under {spec.Runtime}");
        }
    }

    /// <summary>The spec a task container gets (bind mounts of a scratch tree, the object store and a CODEX_HOME), running <paramref name="command"/>.</summary>
    private static ContainerSpec SandboxSpec(string scratch, HostRepository host, string session, string image, IReadOnlyList<string> command)
    {
        var work = Path.Combine(scratch, "sandbox", "work");
        var home = Path.Combine(scratch, "sandbox", "home");
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(home);
        return new ContainerSpec
        {
            Image = image,
            Command = command,
            User = UnixOwner.ForSandbox().ToString(),
            WorkingDirectory = CodexCommandLine.Workspace,
            Environment = new Dictionary<string, string> { ["CODEX_HOME"] = CodexCommandLine.Home, ["HOME"] = CodexCommandLine.Home },
            Mounts =
            [
                new BindMount(work, CodexCommandLine.Workspace, ReadOnly: false),
                new BindMount(host.ObjectsDir, host.ObjectsDir, ReadOnly: true),
                new BindMount(home, CodexCommandLine.Home, ReadOnly: false),
            ],
            Labels = new Dictionary<string, string> { [TaskOverheadBenchmark.BenchLabel] = session },
            Limits = ResourceProfiles.For(RunnerConfig.Default.ResourcePolicy),
            ReadOnlyRootFilesystem = true,
            NetworkMode = "none",
        };
    }
}
