using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
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
/// What one task costs beyond its container: a bare <c>docker run</c>, the same through the Docker API,
/// the runner's own Sandbox with its hardened spec, and a whole runner task, interleaved run by run so
/// drift on a shared machine hits every variant alike.
/// </summary>
internal static class TaskOverheadBenchmark
{
    public const string Image = "sandbox-runner/fake-codex:dev";
    public const string BenchLabel = "sandbox-runner.bench";
    private const int RunCount = 15;
    private const int WarmUps = 3;

    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        using var bench = BenchSession.Open();
        var (session, scratch, docker, client) = (bench.Id, bench.Scratch, bench.Docker, bench.Client);
        var (engine, timing, gitLog, git) = (bench.Docker, bench.Timing, bench.GitLog, bench.Git);
        var apiContainers = new ConcurrentDictionary<string, byte>();
        var runners = new List<RunnerVariant>();
        try
        {
            var repoPath = await Repositories.CreateSmallAsync(Path.Combine(scratch, "repo"), cancellationToken);
            var host = await HostRepository.OpenAsync(git, repoPath, cancellationToken);
            var commit = await host.ResolveCommitAsync("HEAD", cancellationToken)
                ?? throw new InvalidOperationException("the small repository has no HEAD commit");
            var sandboxSpec = SandboxSpec(scratch, host, session);
            var owner = UnixOwner.ForSandbox();

            var main = new ResultTable($"task-overhead: one container or task at a time (N={RunCount} after {WarmUps} warm-up runs, variants interleaved)");
            var cli = main.Row($"(a) docker run --rm {Image} true  [CLI]");
            var api = main.Row("(b) Docker.DotNet create+start+wait+remove, cmd true");
            var sandbox = main.Row("(b2) runner's Sandbox over DockerEngine, task spec, cmd true");

            // The default config, as the integration tests build it; and the same without any network, so a per-run
            // network set-up (if the default has one) shows as the difference between the two.
            var defaults = RunnerConfig.Default with { Image = Image, CodexModel = "gpt-5.5" };
            foreach (var (tag, config) in new[] { ("c", defaults), ("c2", defaults with { NetworkPolicy = NetworkPolicy.None }) })
            {
                var name = $"({tag}) Runner.RunAsync, 1 task \"do nothing\", network {PolicyName(config.NetworkPolicy)}";
                runners.Add(new RunnerVariant(
                    tag,
                    name,
                    new Runner(host, config, engine.Backend, git, NullLoggerFactory.Instance, hostEnvironment: _ => null),
                    main.Row(name),
                    new ResultTable($"task-overhead: {name}, split into the runner's engine and git calls")));
            }

            main.Note("(b2) uses the runner's own container path (Sandbox.CreateAsync/RunAsync/DisposeAsync over DockerEngine: create,\n"
                + "start + follow logs + wait, remove) with the spec a task gets: init, cap-drop ALL, no-new-privileges, memory/cpu/pids\n"
                + $"limits, read-only rootfs, /tmp tmpfs, 3 bind mounts, network none, user {owner} - but runs `true` instead of codex.");

            for (var i = 0; i < WarmUps + RunCount; i++)
            {
                var measured = i >= WarmUps;
                Console.Error.Write(measured ? "." : "w");

                var a = await Timing.TimeAsync(() => DockerRunCliAsync(session, Image, cancellationToken));
                var b = await Timing.TimeAsync(() => DockerApiAsync(client, session, apiContainers, cancellationToken));
                var b2 = await Timing.TimeAsync(() => SandboxAsync(engine, sandboxSpec, cancellationToken));
                if (measured)
                {
                    cli.Add(a);
                    api.Add(b);
                    sandbox.Add(b2);
                }

                foreach (var variant in runners.Where(r => r.Skipped is null))
                {
                    timing.Clear();
                    gitLog.Clear();
                    var start = Stopwatch.GetTimestamp();
                    try
                    {
                        var result = await variant.Runner.RunAsync(
                            new RunRequest { Tasks = [new TaskRequest { TaskId = "bench", Prompt = "do nothing" }] },
                            progress: null,
                            cancellationToken);
                        var only = result.Results.Single();
                        if (only.Status != SandboxRunner.Runs.TaskStatus.Success || only.FilesChanged.Count != 0)
                        {
                            throw new InvalidOperationException($"the task did not succeed cleanly: {only.Status}, {only.NotesForManager}");
                        }
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        variant.Skipped = e.Message;
                        continue;
                    }

                    var end = Stopwatch.GetTimestamp();
                    if (measured)
                    {
                        variant.Row.Add(Timing.Ms(start, end));
                        CallPhases.Add(variant.Phases, start, end, timing.Events, gitLog.Events);
                    }
                }
            }

            var direct = await DirectWorktreeStepsAsync(git, host, commit, scratch, cancellationToken);
            Console.Error.WriteLine();

            foreach (var variant in runners)
            {
                if (variant.Skipped is not null)
                {
                    main.Note($"({variant.Tag}) FAILED, left out: {variant.Skipped}");
                }
                else if (variant.Row.Count > 0)
                {
                    main.Note(string.Create(
                        CultureInfo.InvariantCulture,
                        $"runner overhead per task ({variant.Tag} - a), medians: {variant.Row.Median - cli.Median:F1} ms"
                        + $"   [({variant.Tag} - b): {variant.Row.Median - api.Median:F1} ms; ({variant.Tag} - b2): {variant.Row.Median - sandbox.Median:F1} ms]"));
                }
            }

            Console.WriteLine(main.Render());
            foreach (var variant in runners.Where(r => r.Skipped is null && r.Row.Count > 0))
            {
                variant.Phases.Note("Rows are the calls in the order the runner made them, each a per-run duration (engine calls: each Docker API request,\n"
                    + "request to response disposed, seen under Docker.DotNet; git calls by GitCli's own log); 'task' is the container whose exit the runner\n"
                    + "waited for, 'aux N' other containers; the log follower that runs alongside the task container is left out.\n"
                    + "'outside calls' rows are the time no engine or git call was in flight:\n"
                    + $"before the task container's create that is chown -R -h {owner} of work/ and CODEX_HOME, git dirs, prompt, run\n"
                    + "records; after it, log drain, policy checks, result files, folder deletion. Medians of parts do not add up exactly.");
                Console.WriteLine(variant.Phases.Render());
            }

            Console.WriteLine(direct.Render());
        }
        finally
        {
            foreach (var variant in runners)
            {
                variant.Runner.Dispose();
            }

            await RemoveDockerObjectsAsync(docker, client, session, timing.Created.Keys.Concat(apiContainers.Keys), timing.CreatedNetworks.Keys);
            TreeDeletion.Delete(scratch);
        }
    }

    private sealed record RunnerVariant(string Tag, string Name, Runner Runner, Samples Row, ResultTable Phases)
    {
        public string? Skipped { get; set; }
    }

    private static string PolicyName(NetworkPolicy policy) => policy switch
    {
        NetworkPolicy.Deny => "deny",
        NetworkPolicy.Allow => "allow",
        NetworkPolicy.None => "none",
        _ => policy.ToString(),
    };

    /// <summary>The runner's worktree steps called one by one on the same small repository.</summary>
    private static async Task<ResultTable> DirectWorktreeStepsAsync(
        GitCli git, HostRepository host, string commit, string scratch, CancellationToken cancellationToken)
    {
        var sandboxOwner = UnixOwner.ForSandbox();
        var current = UnixOwner.CurrentProcess;
        var table = new ResultTable($"task-overhead: the runner's worktree steps called directly on the same small repo (N={RunCount} after {WarmUps} warm-up runs)");
        var createSandbox = table.Row($"Worktree.CreateAsync, owner {sandboxOwner} (ForSandbox)");
        var createCurrent = table.Row($"Worktree.CreateAsync, owner {current} (CurrentProcess)");
        var collectClean = table.Row("CollectChangesAsync, untouched tree");
        var checkEmpty = table.Row("CheckAppliesAsync, empty patch (what a no-op task does)");
        var collectOne = table.Row("CollectChangesAsync, 1 file modified");
        var checkOne = table.Row("CheckAppliesAsync, 1-file patch");
        var delete = table.Row($"Worktree.Delete(), owner {sandboxOwner}, 1 file changed");

        var root = Path.Combine(host.RunnerDir, "bench");
        try
        {
            for (var i = 0; i < WarmUps + RunCount; i++)
            {
                var measured = i >= WarmUps;
                Worktree? worktree = null;
                var tCurrent = await Timing.TimeAsync(async () =>
                    worktree = await Worktree.CreateAsync(git, host, Path.Combine(root, $"current-{i}"), commit, current, cancellationToken));
                worktree!.Delete();

                var tSandbox = await Timing.TimeAsync(async () =>
                    worktree = await Worktree.CreateAsync(git, host, Path.Combine(root, $"sandbox-{i}"), commit, sandboxOwner, cancellationToken));
                TreeChanges? changes = null;
                var tCollectClean = await Timing.TimeAsync(async () => changes = await worktree!.CollectChangesAsync(CheckoutBenchmark.Limits, Path.Combine(root, $"patch-{i}"), cancellationToken));
                var tCheckEmpty = await Timing.TimeAsync(() => worktree!.CheckAppliesAsync(changes!.PatchFile, commit, cancellationToken));
                await File.AppendAllTextAsync(Path.Combine(worktree!.WorkPath, "src", "app.txt"), "line 3\n", cancellationToken);
                var tCollectOne = await Timing.TimeAsync(async () => changes = await worktree!.CollectChangesAsync(CheckoutBenchmark.Limits, Path.Combine(root, $"patch-{i}"), cancellationToken));
                ApplyCheck? check = null;
                var tCheckOne = await Timing.TimeAsync(async () => check = await worktree!.CheckAppliesAsync(changes!.PatchFile, commit, cancellationToken));
                if (changes!.Files.Count != 1 || !check!.Applies)
                {
                    throw new InvalidOperationException($"unexpected change set: {string.Join(", ", changes.Files)}; applies: {check?.Applies}");
                }

                var tDelete = Timing.Time(() => worktree!.Delete());
                if (measured)
                {
                    createSandbox.Add(tSandbox);
                    createCurrent.Add(tCurrent);
                    collectClean.Add(tCollectClean);
                    checkEmpty.Add(tCheckEmpty);
                    collectOne.Add(tCollectOne);
                    checkOne.Add(tCheckOne);
                    delete.Add(tDelete);
                }
            }
        }
        finally
        {
            TreeDeletion.Delete(root);
        }

        return table;
    }

    /// <summary><c>docker run --rm IMAGE true</c> through the CLI: the baseline a runner task is compared with.</summary>
    internal static async Task DockerRunCliAsync(string session, string image, CancellationToken cancellationToken) =>
        await Shell.RunAsync("docker", ["run", "--rm", "--label", $"{BenchLabel}={session}", image, "true"], cancellationToken);

    private static async Task DockerApiAsync(DockerClient client, string session, ConcurrentDictionary<string, byte> created, CancellationToken cancellationToken)
    {
        var response = await client.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Image = Image,
                Cmd = ["true"],
                Labels = new Dictionary<string, string> { [BenchLabel] = session },
                HostConfig = new HostConfig(),
            },
            cancellationToken);
        created[response.ID] = 0;
        await client.Containers.StartContainerAsync(response.ID, new ContainerStartParameters(), cancellationToken);
        var exit = await client.Containers.WaitContainerAsync(response.ID, cancellationToken);
        await client.Containers.RemoveContainerAsync(response.ID, new ContainerRemoveParameters(), cancellationToken);
        created.TryRemove(response.ID, out _);
        if (exit.StatusCode != 0)
        {
            throw new InvalidOperationException($"`true` exited with {exit.StatusCode} through the API");
        }
    }

    private static async Task SandboxAsync(IContainerEngine engine, ContainerSpec spec, CancellationToken cancellationToken)
    {
        // The runner's own box (Boxes/Docker's DockerTaskBox), over the container this spec makes.
        var sandbox = new DockerTaskBox((DockerBackend)engine.Backend, await engine.CreateAsync(spec, cancellationToken), null, null);
        try
        {
            var exit = await sandbox.RunAsync(TimeSpan.FromSeconds(60), (_, _) => { }, null, CancellationToken.None, cancellationToken);
            if (exit.ExitCode != 0)
            {
                throw new InvalidOperationException($"`true` exited with {exit.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"} in the Sandbox");
            }
        }
        finally
        {
            await sandbox.DisposeAsync();
        }
    }

    /// <summary>The spec a task container gets (as TaskRunner.BuildSpec builds it), with <c>true</c> for the command.</summary>
    private static ContainerSpec SandboxSpec(string scratch, HostRepository host, string session)
    {
        var work = Path.Combine(scratch, "sandbox", "work");
        var home = Path.Combine(scratch, "sandbox", "home");
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(home);
        var owner = UnixOwner.ForSandbox();
        return new ContainerSpec
        {
            Image = Image,
            Command = ["true"],
            User = owner.ToString(),
            WorkingDirectory = CodexCommandLine.Workspace,
            Environment = new Dictionary<string, string> { ["CODEX_HOME"] = CodexCommandLine.Home, ["HOME"] = CodexCommandLine.Home },
            Mounts =
            [
                new BindMount(work, CodexCommandLine.Workspace, ReadOnly: false),
                new BindMount(host.ObjectsDir, host.ObjectsDir, ReadOnly: true),
                new BindMount(home, CodexCommandLine.Home, ReadOnly: false),
            ],
            Labels = new Dictionary<string, string> { [BenchLabel] = session },
            Limits = ResourceProfiles.For(RunnerConfig.Default.ResourcePolicy),
            ReadOnlyRootFilesystem = true,
            NetworkMode = "none",
        };
    }

    /// <summary>Removes every container and network this session made: by id/name, and by the session label for the CLI ones.</summary>
    internal static async Task RemoveDockerObjectsAsync(DockerEngine docker, DockerClient client, string session, IEnumerable<string> containers, IEnumerable<string> networks)
    {
        try
        {
            var labelled = await docker.ListContainersAsync(BenchLabel, session, CancellationToken.None);
            foreach (var id in containers.Concat(labelled).Distinct(StringComparer.Ordinal))
            {
                await docker.RemoveAsync(id, CancellationToken.None);
            }

            foreach (var network in networks.ToList())
            {
                try
                {
                    await client.Networks.DeleteNetworkAsync(network, CancellationToken.None);
                }
                catch (DockerNetworkNotFoundException)
                {
                }
            }
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
        {
            Console.Error.WriteLine($"warning: could not remove this session's containers or networks (label {BenchLabel}={session}): {e.Message}");
        }
    }
}
