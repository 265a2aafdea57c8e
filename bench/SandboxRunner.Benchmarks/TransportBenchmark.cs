using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// What the copy transport costs a task against bind mounts, on the same engine (the host's, transport
/// forced), for a small repository and a 50,000-file one. Overhead is a whole <see cref="Runner.RunAsync"/>
/// minus the agent's own time, which is the task container's life by the engine's own clock (its
/// <c>StartedAt</c> to <c>FinishedAt</c>); the fake Codex writes one small file. Variants are interleaved run
/// by run, so drift on a shared machine hits each alike.
/// </summary>
internal static class TransportBenchmark
{
    private const string Prompt = "@write bench.txt one small write\\n";

    private sealed record Repository(string Name, string Path, int Runs, int WarmUps);

    private sealed record Variant(string Name, Runner Runner, Samples Overhead, Samples Total, Samples Agent, ResultTable Phases)
    {
        /// <summary>Measured runs whose container's life could not be read, and why.</summary>
        public List<string> LeftOut { get; } = [];
    }

    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        using var bench = BenchSession.Open();
        var (session, scratch, docker, client) = (bench.Id, bench.Scratch, bench.Docker, bench.Client);
        var (engine, timing, gitLog, git) = (bench.Docker, bench.Timing, bench.GitLog, bench.Git);
        var variants = new List<Variant>();
        var lives = new ConcurrentDictionary<string, Life>(StringComparer.Ordinal);
        timing.BeforeRemove = RecordLife(client, lives, cancellationToken);
        string? large = null;
        IReadOnlySet<string> branchesBefore = new HashSet<string>();
        try
        {
            var small = await Repositories.CreateSmallAsync(Path.Combine(scratch, "repo"), cancellationToken, extraFiles: 15);
            large = await Repositories.EnsureLargeAsync(cancellationToken);
            branchesBefore = await ResultBranchesAsync(large, cancellationToken);
            Repository[] repositories =
            [
                new($"small ({TrackedFiles(small)} files)", small, Runs: 15, WarmUps: 2),
                new($"large ({Repositories.LargeDirectories * Repositories.LargeFilesPerDirectory:N0} files)", large, Runs: 7, WarmUps: 1),
            ];

            var main = new ResultTable("transport: per-task overhead, bind mounts vs copy transport, same engine (variants interleaved)");
            var tables = new Dictionary<Repository, List<Variant>>();
            foreach (var repository in repositories)
            {
                main.Section($"{repository.Name}, N={repository.Runs} after {repository.WarmUps} warm-up");
                var host = await HostRepository.OpenAsync(git, repository.Path, cancellationToken);
                tables[repository] = [];
                foreach (var transport in (TransportPolicy[])[TransportPolicy.Bind, TransportPolicy.Copy])
                {
                    var name = $"{repository.Name}, {(transport == TransportPolicy.Bind ? "bind" : "copy")}";
                    var config = RunnerConfig.Default with
                    {
                        Image = TaskOverheadBenchmark.Image, CodexModel = "gpt-5.5", NetworkPolicy = NetworkPolicy.None,
                        Transport = transport, DefaultAllowedPaths = ["**"], AllowedCommands = [],
                    };
                    var variant = new Variant(
                        name,
                        new Runner(host, config, engine.Backend, git, NullLoggerFactory.Instance, hostEnvironment: _ => null),
                        main.Row($"  overhead: {name}"),
                        main.Row($"    total Runner.RunAsync: {name}"),
                        main.Row($"    agent (container StartedAt -> FinishedAt): {name}"),
                        new ResultTable($"transport: {name}, split into the runner's engine and git calls"));
                    variants.Add(variant);
                    tables[repository].Add(variant);
                }
            }

            main.Note("overhead = total Runner.RunAsync - agent; agent = the task container's life from StartedAt to FinishedAt\n"
                + "(Docker's own clock, read before removal). One task per run, network none, the fake Codex writes bench.txt. bind: the task tree, objects and\n"
                + $"CODEX_HOME are bind-mounted, tree chowned to {UnixOwner.ForSandbox()}; copy: anonymous volumes filled through PUT /archive\n"
                + "(checkout, CODEX_HOME, a pack of the base commit made per run) and /workspace read back through GET /archive.");

            foreach (var repository in repositories)
            {
                for (var i = 0; i < repository.WarmUps + repository.Runs; i++)
                {
                    var measured = i >= repository.WarmUps;
                    Console.Error.Write(measured ? "." : "w");
                    foreach (var variant in tables[repository])
                    {
                        await MeasureAsync(variant, measured, lives, timing, gitLog, cancellationToken);
                    }
                }
            }

            Console.Error.WriteLine();
            foreach (var variant in variants.Where(v => v.LeftOut.Count > 0))
            {
                main.Note($"{variant.Name}: {variant.LeftOut.Count} measured run(s) left out: {string.Join("; ", variant.LeftOut)}");
            }

            Console.WriteLine(main.Render());
            foreach (var variant in variants)
            {
                variant.Phases.Note("Rows as in the task-overhead tables: calls in the order the runner made them, 'outside calls' the time none was in flight.");
                Console.WriteLine(variant.Phases.Render());
            }
        }
        finally
        {
            foreach (var variant in variants)
            {
                variant.Runner.Dispose();
            }

            await TaskOverheadBenchmark.RemoveDockerObjectsAsync(docker, client, session, timing.Created.Keys, timing.CreatedNetworks.Keys);
            TreeDeletion.Delete(scratch);
            if (large is not null)
            {
                // The cached 50k repository outlives the session; the result branch each run leaves there must not.
                var made = (await ResultBranchesAsync(large, CancellationToken.None)).Except(branchesBefore).ToList();
                if (made.Count > 0)
                {
                    await Shell.GitAsync(large, CancellationToken.None, ["branch", "-D", .. made]);
                }
            }
        }
    }

    private static async Task<IReadOnlySet<string>> ResultBranchesAsync(string repository, CancellationToken cancellationToken) =>
        (await Shell.GitAsync(repository, cancellationToken, "for-each-ref", "--format=%(refname:short)", "refs/heads/sandbox/"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

    private static async Task MeasureAsync(Variant variant, bool measured, ConcurrentDictionary<string, Life> lives, EngineCallRecorder timing, GitCallRecorder gitLog, CancellationToken cancellationToken)
    {
        timing.Clear();
        gitLog.Clear();
        var start = Stopwatch.GetTimestamp();
        var result = await variant.Runner.RunAsync(
            new RunRequest { Tasks = [new TaskRequest { TaskId = "bench", Prompt = Prompt }] }, progress: null, cancellationToken);
        var end = Stopwatch.GetTimestamp();
        var only = result.Results.Single();
        if (only.Status != SandboxRunner.Runs.TaskStatus.Success || only.FilesChanged is not ["bench.txt"])
        {
            throw new InvalidOperationException($"{variant.Name}: the task did not succeed with one change: {only.Status}, [{string.Join(", ", only.FilesChanged)}], {only.NotesForManager}");
        }

        if (!measured)
        {
            return;
        }

        if (!lives.TryGetValue(only.ContainerId!, out var life) || life.Ran is not { } agent)
        {
            // A busy shared engine sometimes fails an inspect; the sample is left out and said so.
            variant.LeftOut.Add($"container {only.ContainerId![..12]}: {life?.Problem ?? "not inspected before removal"}");
            return;
        }

        var total = Timing.Ms(start, end);
        variant.Total.Add(total);
        variant.Agent.Add(agent);
        variant.Overhead.Add(total - agent.TotalMilliseconds);
        CallPhases.Add(variant.Phases, start, end, timing.Events, gitLog.Events);
    }

    /// <summary>
    /// How long each container ran by the engine's own clock (StartedAt to FinishedAt), read just before its
    /// removal; or why that could not be read. Never throws: the removal must go ahead whatever happens here.
    /// </summary>
    private static Func<string, Task> RecordLife(DockerClient client, ConcurrentDictionary<string, Life> lives, CancellationToken cancellationToken) =>
        async containerId =>
        {
            try
            {
                var state = (await client.Containers.InspectContainerAsync(containerId, cancellationToken)).State;
                lives[containerId] = DateTimeOffset.TryParse(state?.StartedAt, CultureInfo.InvariantCulture, out var started)
                    && DateTimeOffset.TryParse(state?.FinishedAt, CultureInfo.InvariantCulture, out var finished) && finished > started
                        ? new Life(finished - started, null)
                        : new Life(null, $"state {state?.Status}, started {state?.StartedAt}, finished {state?.FinishedAt}");
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                lives[containerId] = new Life(null, e.Message);
            }
        };

    private sealed record Life(TimeSpan? Ran, string? Problem);

    private static int TrackedFiles(string repository) =>
        Directory.EnumerateFiles(repository, "*", SearchOption.AllDirectories).Count(f => !f.Contains("/.git/", StringComparison.Ordinal));
}
