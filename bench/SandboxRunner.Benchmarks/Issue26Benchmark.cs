using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Runs;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// Every row of issue 26's table in one run, each as a ratio to its bare figure measured in the same run (and
/// interleaved with it, so a shared machine's drift hits both alike): the figure the issue is judged by.
/// </summary>
internal static class Issue26Benchmark
{
    private const string Model = "gpt-5.5";

    public static async Task RunAsync(Issue26Options options, CancellationToken cancellationToken)
    {
        using var bench = BenchSession.Open();
        var summary = new List<string[]>();
        var details = new List<ResultTable>();
        var runners = new List<Runner>();
        var cachedRepositories = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        try
        {
            var small = await Repositories.CreateSmallAsync(Path.Combine(bench.Scratch, "repo"), cancellationToken);
            var smallHost = await HostRepository.OpenAsync(bench.Git, small, cancellationToken);
            RunnerConfig Config(NetworkPolicy policy) => RunnerConfig.Default with
            {
                Image = TaskOverheadBenchmark.Image, CodexModel = Model, NetworkPolicy = policy,
                AllowedCommands = [], DefaultAllowedPaths = ["**"], DefaultConcurrency = RunRequest.ConcurrencyCeiling,
            };
            Runner Make(HostRepository host, RunnerConfig config)
            {
                // The one place the benchmark makes a runner: the runner over the real engine, as the host makes it.
                var runner = new Runner(host, config, bench.Docker.Backend, bench.Git, NullLoggerFactory.Instance, hostEnvironment: _ => null);
                runners.Add(runner);
                return runner;
            }

            async Task<HostRepository> Cached(int files)
            {
                var path = await Repositories.EnsureAsync(files, cancellationToken);
                cachedRepositories.TryAdd(path, await ResultBranchesAsync(path, cancellationToken));
                return await HostRepository.OpenAsync(bench.Git, path, cancellationToken);
            }

            await MeasureRowAsync(options.Measures("server"), "server", summary, async () =>
            {
                var (server, hello) = await ServerStart.PrepareAsync(options.ServerDll, bench.Scratch, cancellationToken);
                var table = new ResultTable($"server: process start to the answer of initialize + tools/list over raw stdio (N={3 * options.Reps} after 2 warm-ups)");
                var bare = table.Row(".NET hello-world (dotnet hello.dll), start to exit");
                var measured = table.Row("sandbox-runner (dotnet sandbox-runner.dll), start to the tools/list answer");
                var tools = 0;
                for (var i = 0; i < 2 + (3 * options.Reps); i++)
                {
                    Console.Error.Write(i < 2 ? "w" : ".");
                    var h = await ServerStart.HelloAsync(hello, cancellationToken);
                    (var s, tools) = await ServerStart.InitializeAndListAsync(server, small, cancellationToken);
                    if (i >= 2)
                    {
                        bare.Add(h);
                        measured.Add(s);
                    }
                }

                table.Note($"server: {server}; tools listed: {tools}");
                details.Add(table);
                summary.Add(Row("server start to initialize + tools/list", bare, measured, measured.Median / bare.Median, "<= 5x a .NET hello-world"));
            }, cancellationToken);

            await MeasureRowAsync(options.Measures("deny"), "deny", summary, async () =>
            {
                var table = new ResultTable($"deny: one no-op task (fake Codex), small repository (N={options.Reps} after 1 warm-up, interleaved)");
                var bare = table.Row("bare docker run --rm --network none <task image> true");
                var allow = table.Row("Runner.RunAsync, network allow");
                var deny = table.Row("Runner.RunAsync, network deny (the default)");
                var (allowRunner, denyRunner) = (Make(smallHost, Config(NetworkPolicy.Allow)), Make(smallHost, Config(NetworkPolicy.Deny)));
                for (var i = 0; i < 1 + options.Reps; i++)
                {
                    Console.Error.Write(i < 1 ? "w" : ".");
                    var b = await Bare.DockerRunAsync(bench.Id, cancellationToken);
                    var a = await Timing.TimeAsync(() => NoOpAsync(allowRunner, "do nothing", cancellationToken));
                    var d = await Timing.TimeAsync(() => NoOpAsync(denyRunner, "do nothing", cancellationToken));
                    if (i >= 1)
                    {
                        bare.Add(b);
                        allow.Add(a);
                        deny.Add(d);
                    }
                }

                details.Add(table);
                var extra = deny.Median - allow.Median;
                summary.Add(Row("deny per run, over allow", bare, extra, extra / bare.Median, "<= 0.75x a bare docker run"));
            }, cancellationToken);

            await MeasureRowAsync(options.Measures("teardown"), "teardown", summary, async () =>
            {
                var runs = options.Reps + 3;
                var table = new ResultTable($"teardown: a deny run's agent exit (engine's die event) to the reply, CPU burner on every core (N={runs})");
                var bare = table.Row("bare docker run --rm --network none <task image> true, under the same load");
                var after = table.Row("deny run: the agent container's death to Runner.RunAsync's return");
                var denyRunner = Make(smallHost, Config(NetworkPolicy.Deny));
                using (var watch = new DeathWatch())
                using (new CpuBurner())
                {
                    for (var i = 0; i < runs; i++)
                    {
                        Console.Error.Write(".");
                        bare.Add(await Bare.DockerRunAsync(bench.Id, cancellationToken));
                        var result = await NoOpAsync(denyRunner, "do nothing", cancellationToken);
                        var returned = DateTimeOffset.UtcNow;
                        if (result.ContainerId is { } id && await watch.DiedAsync(id) is { } died)
                        {
                            after.Add(returned - died);
                        }
                    }
                }

                var slow = after.Values.Count(ms => ms > 5_000);
                table.Note(string.Create(CultureInfo.InvariantCulture, $"{slow} of {after.Count} replies came more than 5 s after the agent's exit; slowest {after.Max / 1000:F1} s"));
                details.Add(table);
                summary.Add(Row("teardown after a deny run, under load: agent exit -> reply, slowest of the runs", bare, after.Max, after.Max / bare.Median, "the reply never waits on a grace period"));
            }, cancellationToken);

            await MeasureRowAsync(options.Measures("parallel"), "parallel", summary, async () =>
            {
                const int Tasks = 8;
                var table = new ResultTable($"parallel: {Tasks} at once (N={options.Reps} after 1 warm-up, interleaved)");
                var bare = table.Row($"{Tasks} bare docker runs at once, all done");
                var starts = table.Row($"one run of {Tasks} tasks at once: run start to the last task's first agent command");
                var whole = table.Row($"one run of {Tasks} tasks at once: the whole Runner.RunAsync");
                var runner = Make(smallHost, Config(NetworkPolicy.None));
                for (var i = 0; i < 1 + options.Reps; i++)
                {
                    Console.Error.Write(i < 1 ? "w" : ".");
                    var b = await Timing.TimeAsync(() => Task.WhenAll(Enumerable.Range(0, Tasks).Select(_ => Bare.DockerRunAsync(bench.Id, cancellationToken))));
                    var observer = new RunObserver();
                    var started = Stopwatch.GetTimestamp();
                    var request = new RunRequest
                    {
                        Concurrency = Tasks,
                        Tasks = [.. Enumerable.Range(0, Tasks).Select(t => new TaskRequest { TaskId = $"t{t}", Prompt = "@run 0 true" })],
                    };
                    await runner.RunAsync(request, observer, cancellationToken);
                    var ended = Stopwatch.GetTimestamp();
                    if (i >= 1 && observer.FirstCommand.Count == Tasks)
                    {
                        bare.Add(b);
                        starts.Add(Timing.Ms(started, observer.FirstCommand.Values.Max()));
                        whole.Add(Timing.Ms(started, ended));
                    }
                }

                details.Add(table);
                summary.Add(Row($"{Tasks} task starts at once", bare, starts, starts.Median / bare.Median, "<= 1.2x"));
            }, cancellationToken);

            await MeasureRowAsync(options.Measures("transport"), "transport", summary, async () =>
            {
                var host = await Cached(options.Files);
                var table = new ResultTable($"transport: one task writing one file, {options.Files:N0}-file repository (N={options.TransportReps}, interleaved)");
                var bind = table.Row("Runner.RunAsync, bind mounts");
                var copy = table.Row("Runner.RunAsync, copy transport");
                var runnerOf = (TransportPolicy transport) => Make(host, Config(NetworkPolicy.None) with { Transport = transport });
                var (bindRunner, copyRunner) = (runnerOf(TransportPolicy.Bind), runnerOf(TransportPolicy.Copy));
                for (var i = 0; i < options.TransportReps; i++)
                {
                    Console.Error.Write(".");
                    bind.Add(await Timing.TimeAsync(() => WriteOneAsync(bindRunner, cancellationToken)));
                    copy.Add(await Timing.TimeAsync(() => WriteOneAsync(copyRunner, cancellationToken)));
                }

                details.Add(table);
                summary.Add(Row($"copy transport, {options.Files:N0}-file repository, vs bind", bind, copy, copy.Median / bind.Median, "<= 1.3x bind"));
            }, cancellationToken);

            await MeasureRowAsync(options.Measures("noop"), "noop", summary, async () =>
            {
                var host = await Cached(2_000);
                var runner = Make(host, Config(NetworkPolicy.None));
                foreach (var loaded in (bool[])[false, true])
                {
                    var name = loaded ? "with a CPU burner on every core" : "quiet";
                    var table = new ResultTable($"no-op task, 2,000-file repository, {name} (N={options.Reps} after 1 warm-up, interleaved)");
                    var bare = table.Row("git worktree add + docker run --network none (bind) + git diff + worktree remove");
                    var task = table.Row("Runner.RunAsync, one no-op task (fake Codex), network none");

                    // The runner's own CPU per task: this process's CPU time across one Runner.RunAsync (the benchmark does
                    // nothing else meanwhile; git and Docker's own CPU are in other processes and not counted).
                    var cpu = table.Row("the runner's own CPU time per task (this process, user + system)");
                    table.Section("Runner.RunAsync by phase (Issue26Phases.cs):");
                    using var phases = new PhaseRecorder();
                    using (loaded ? new CpuBurner() : null)
                    {
                        for (var i = 0; i < 1 + options.Reps; i++)
                        {
                            Console.Error.Write(i < 1 ? "w" : ".");
                            var b = await Bare.SequenceAsync(bench.Id, host.Root, bench.Scratch, i, cancellationToken);
                            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                            var t = await Timing.TimeAsync(() => NoOpAsync(runner, "do nothing", cancellationToken));
                            var cpuUsed = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds;
                            var split = phases.Take();
                            if (i >= 1)
                            {
                                bare.Add(b);
                                task.Add(t);
                                cpu.Add(cpuUsed);
                                PhaseRecorder.AddTo(table, split, t.TotalMilliseconds);
                            }
                        }
                    }

                    details.Add(table);
                    summary.Add(Row($"no-op task vs the bare sequence, 2,000 files, {name}", bare, task, task.Median / bare.Median, "<= 1.1x"));
                    summary.Add(Row($"the runner's own CPU per no-op task, {name} (vs the task's wall time)", task, cpu, cpu.Median / task.Median, "report"));
                }
            }, cancellationToken);

            await MeasureRowAsync(options.Measures("sparse") && options.SparseGb > 0, "sparse", summary, async () =>
            {
                var table = new ResultTable($"sparse: a {options.SparseGb} GB sparse file (truncate -s) in a copy-transport task (N=1)");
                var bare = table.Row("bare docker run --rm --network none <task image> true");
                var task = table.Row("Runner.RunAsync, copy transport, the agent makes the sparse file");
                var runner = Make(smallHost, Config(NetworkPolicy.None) with { Transport = TransportPolicy.Copy });
                bare.Add(await Bare.DockerRunAsync(bench.Id, cancellationToken));
                TaskResult? result = null;
                task.Add(await Timing.TimeAsync(async () => result = await NoOpAsync(
                    runner, string.Create(CultureInfo.InvariantCulture, $"@run 0 truncate -s {options.SparseGb}G big.bin"), cancellationToken, mustSucceed: false)));
                table.Note($"status {result!.Status}, files changed [{string.Join(", ", result.FilesChanged)}]: {Shorten(result.NotesForManager)}");
                details.Add(table);
                summary.Add(Row($"a {options.SparseGb} GB sparse file, copy transport (over max_file_bytes)", bare, task, task.Median / bare.Median, "skipped before it is read"));
            }, cancellationToken);

            Console.Error.WriteLine();
            Console.WriteLine(Summary(summary));
            foreach (var table in details)
            {
                Console.WriteLine(table.Render());
            }
        }
        finally
        {
            foreach (var runner in runners)
            {
                runner.Dispose();
            }

            foreach (var (path, before) in cachedRepositories)
            {
                var made = (await ResultBranchesAsync(path, CancellationToken.None)).Except(before).ToList();
                if (made.Count > 0)
                {
                    await Shell.GitAsync(path, CancellationToken.None, ["branch", "-D", .. made]);
                }

                await Shell.GitAsync(path, CancellationToken.None, "worktree", "prune");
            }

            await TaskOverheadBenchmark.RemoveDockerObjectsAsync(bench.Docker, bench.Client, bench.Id, [], []);
            TreeDeletion.Delete(bench.Scratch);
        }
    }

    /// <summary>One row; a failure (a busy engine timing out, say) is said in the summary and the other rows still run.</summary>
    private static async Task MeasureRowAsync(bool wanted, string name, List<string[]> summary, Func<Task> measure, CancellationToken cancellationToken)
    {
        if (!wanted)
        {
            return;
        }

        try
        {
            await measure();
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Console.Error.WriteLine($"issue26: row {name} failed: {e}");
            summary.Add([name, "-", "-", "-", $"FAILED: {Shorten(e.Message)}"]);
        }
    }

    private static async Task<TaskResult> NoOpAsync(Runner runner, string prompt, CancellationToken cancellationToken, bool mustSucceed = true)
    {
        var result = await runner.RunAsync(
            new RunRequest { Tasks = [new TaskRequest { TaskId = "bench", Prompt = prompt }] }, progress: null, cancellationToken);
        var only = result.Results.Single();
        return !mustSucceed || only.Status == SandboxRunner.Runs.TaskStatus.Success
            ? only
            : throw new InvalidOperationException($"the task did not succeed: {only.Status}, {only.NotesForManager}");
    }

    private static async Task WriteOneAsync(Runner runner, CancellationToken cancellationToken)
    {
        var only = await NoOpAsync(runner, "@write bench.txt one small write\\n", cancellationToken);
        if (only.FilesChanged is not ["bench.txt"])
        {
            throw new InvalidOperationException($"the task changed [{string.Join(", ", only.FilesChanged)}], not bench.txt");
        }
    }

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 300 ? text : text[..300] + "...";

    private static string[] Row(string what, Samples bare, Samples measured, double ratio, string target) =>
        Row(what, bare, measured.Median, ratio, target);

    private static string[] Row(string what, Samples bare, double measured, double ratio, string target) =>
    [
        what,
        string.Create(CultureInfo.InvariantCulture, $"{bare.Median / 1000:F3} s"),
        string.Create(CultureInfo.InvariantCulture, $"{measured / 1000:F3} s"),
        string.Create(CultureInfo.InvariantCulture, $"{ratio:F2}x"),
        target,
    ];

    private static string Summary(List<string[]> rows)
    {
        string[] header = ["issue 26 row", "bare (median)", "measured (median)", "ratio", "target"];
        var lines = new List<string> { "# issue 26: each row against its bare figure from this run", "", $"| {string.Join(" | ", header)} |", $"|{string.Concat(header.Select(_ => "---|"))}" };
        lines.AddRange(rows.Select(r => $"| {string.Join(" | ", r)} |"));
        return string.Join('\n', lines) + "\n";
    }

    private static async Task<IReadOnlySet<string>> ResultBranchesAsync(string repository, CancellationToken cancellationToken) =>
        (await Shell.GitAsync(repository, cancellationToken, "for-each-ref", "--format=%(refname:short)", "refs/heads/sandbox/"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
}
