using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// What a Python and a .NET environment cost, each on a generated repository with real tests: building the
/// toolchain image, the cold setup, a later run that reuses it, a task's start against a bare
/// <c>docker run</c> of the setup image, and one task that runs the repository's tests.
/// </summary>
internal static class ToolchainBenchmark
{
    private const int RunCount = 5;
    private const int WarmUps = 1;

    /// <summary>The fake Codex reports this command the moment it ran, which is the start being measured.</summary>
    private const string FirstStep = "@run 0 true";

    /// <summary>
    /// Every start-measuring task writes one file. Added while Docker 20.10's null change list for an unchanged
    /// container failed the harvest (fixed since); kept so the figures stay comparable with those measured then.
    /// </summary>
    private static string Touch(string taskId) => $"@write bench/{taskId}.txt written by {taskId}";

    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        using var bench = BenchSession.Open();
        var (session, scratch, docker, client) = (bench.Id, bench.Scratch, bench.Docker, bench.Client);
        var (engine, timing, git) = (bench.Docker, bench.Timing, bench.Git);
        var scopes = new List<string>();
        var baseImages = new List<string>();
        try
        {
            foreach (var toolchain in new[] { Toolchains.Python(session), Toolchains.Dotnet() })
            {
                var context = new Measuring(session, scratch, docker, client, engine, timing, git, scopes, baseImages);
                Console.WriteLine(await MeasureAsync(toolchain, context, cancellationToken));
            }
        }
        finally
        {
            await CleanUpAsync(docker, client, timing, session, scopes, baseImages);
            TreeDeletion.Delete(scratch);
        }
    }

    private sealed record Measuring(
        string Session, string Scratch, DockerEngine Docker, DockerClient Client, IContainerEngine Engine, EngineCallRecorder Timing, GitCli Git, List<string> Scopes, List<string> BaseImages);

    private static async Task<string> MeasureAsync(Toolchain toolchain, Measuring m, CancellationToken cancellationToken)
    {
        var name = toolchain.Name;
        var table = new ResultTable($"toolchains: {name} (per-task rows N={RunCount} after {WarmUps} warm-up run, interleaved with the bare run)");
        if (toolchain.Base is { } baseImage)
        {
            Console.Error.WriteLine($"toolchains: {name}: docker build --no-cache -t {baseImage.Tag}");
            m.BaseImages.Add(baseImage.Tag);
            table.Row($"base image {baseImage.Tag}: docker build --no-cache").Add(
                await Timing.TimeAsync(() => BuildBaseAsync(baseImage, m, cancellationToken)));
        }

        var repoPath = Path.Combine(m.Scratch, name.Trim('.').ToLowerInvariant());
        await toolchain.WriteRepositoryAsync(repoPath, cancellationToken);
        var host = await HostRepository.OpenAsync(m.Git, repoPath, cancellationToken);
        var config = RunnerConfig.Default with
        {
            Image = TaskOverheadBenchmark.Image,
            CodexModel = "gpt-5.5",
            AllowedCommands = [],
            DefaultAllowedPaths = ["**"],
            // No egress gateway: its per-run cost is task-overhead's (c) - (c2); here only the environment's shows.
            NetworkPolicy = NetworkPolicy.None,
            Environment = toolchain.Environment,
        };
        using var runner = new Runner(host, config, m.Engine.Backend, m.Git, NullLoggerFactory.Instance, hostEnvironment: _ => null);
        m.Scopes.Add(Labels.ScopeOf(runner.Repository.CommonDir));
        var observer = new ToolchainObserver();

        Console.Error.WriteLine($"toolchains: {name}: cold run (environment image, setup, one task)");
        var cold = await RunOnceAsync(runner, m.Timing, observer, "cold", [FirstStep, Touch("cold"), "@message done"], cancellationToken);
        if (observer.SetupReused)
        {
            throw new InvalidOperationException($"{name}: the cold run reused a setup image; its key should be new to this session");
        }

        var builds = cold.Calls.Where(c => c.Name == DockerCalls.Build).ToList();
        var buildNames = toolchain.Base is null
            ? new[] { "environment base: the repository's env.Dockerfile (apt-get)", "environment image: Codex layered onto it" }
            : ["environment image: Codex layered onto the base"];
        foreach (var (build, label) in builds.Zip(buildNames))
        {
            table.Row($"{label}  [runner]").Add(build.Ms);
        }

        table.Row("setup, cold (container, commands, commit)").Add(observer.SetupMs ?? throw new InvalidOperationException($"{name}: the cold run reported no setup"));
        table.Row("cold run, end to end (1 task `@run 0 true`)").Add(cold.WallMs);

        var images = await ImagesAsync(m, Labels.ScopeOf(runner.Repository.CommonDir), toolchain, cancellationToken);
        var kept = await KeptAsync(images.Setup.Tag, m.Session, cancellationToken);

        Console.Error.Write($"toolchains: {name}: {WarmUps} + {RunCount} runs reusing the setup, each after a bare docker run ");
        var bare = table.Row($"bare `docker run --rm <setup image> true`  [CLI]");
        var start = table.Row("task start: task container create -> first agent command");
        var prepare = table.Row("later run: run start -> task container create (setup reused)");
        var wall = table.Row("later run, end to end (1 task `@run 0 true`)");
        for (var i = 0; i < WarmUps + RunCount; i++)
        {
            Console.Error.Write(i >= WarmUps ? "." : "w");
            var a = await Timing.TimeAsync(() => TaskOverheadBenchmark.DockerRunCliAsync(m.Session, images.Setup.Tag, cancellationToken));
            var run = await RunOnceAsync(runner, m.Timing, observer, $"warm-{i}", [FirstStep, Touch($"warm-{i}"), "@message done"], cancellationToken);
            if (!observer.SetupReused)
            {
                throw new InvalidOperationException($"{name}: run {i + 2} ran setup again although nothing its key covers changed");
            }

            if (i >= WarmUps)
            {
                bare.Add(a);
                start.Add(run.CreateToFirstCommandMs);
                prepare.Add(run.StartToCreateMs);
                wall.Add(run.WallMs);
            }
        }

        Console.Error.WriteLine();
        Console.Error.WriteLine($"toolchains: {name}: one task running `{toolchain.TestCommand}`");
        var tests = await RunOnceAsync(runner, m.Timing, observer, "tests", [$"@run 0 {toolchain.TestCommand}", "@message tested"], cancellationToken);
        table.Row($"task `{toolchain.TestCommand}`: its container's run").Add(tests.TaskContainerMs);
        table.Row("that run, end to end").Add(tests.WallMs);

        table.Note(string.Create(CultureInfo.InvariantCulture, $"""
            task start - bare docker run, medians: {start.Median - bare.Median:F0} ms
            images: {images.Describe()}
            setup image keeps: {kept}; artefacts: {string.Join(", ", images.Artifacts)}
            tests task: exit {tests.Result.CommandsRun.Single().ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"}, "{tests.PassedLine(toolchain.PassedMarker)}"; files_changed: {(tests.Result.FilesChanged.Count == 0 ? "none" : string.Join(", ", tests.Result.FilesChanged))}
            """));
        return table.Render();
    }

    /// <summary>One run of one task, timed: the run's wall time and the task container's create, first command and wait.</summary>
    private static async Task<RunTimes> RunOnceAsync(
        Runner runner, EngineCallRecorder timing, ToolchainObserver observer, string taskId, IReadOnlyList<string> steps, CancellationToken cancellationToken)
    {
        timing.Clear();
        observer.Clear();
        var started = Stopwatch.GetTimestamp();
        var result = await runner.RunAsync(new RunRequest { Tasks = [new TaskRequest { TaskId = taskId, Prompt = string.Join('\n', steps) }] }, observer, cancellationToken);
        var ended = Stopwatch.GetTimestamp();
        var only = result.Results.Single();
        if (only.Status != Runs.TaskStatus.Success || only.CommandsRun.Any(c => c.ExitCode != 0))
        {
            var commands = string.Join("; ", only.CommandsRun.Select(c => $"{c.Cmd} -> {c.ExitCode}"));
            throw new InvalidOperationException($"task {taskId} ended {only.Status.Wire()}: {only.Summary}; {only.NotesForManager}; commands: {commands}; evidence: {only.Evidence}");
        }

        var calls = timing.Events;
        var wait = calls.LastOrDefault(c => c.Name == DockerCalls.Wait)
            ?? throw new InvalidOperationException($"task {taskId}: no container was waited for");
        var create = calls.Single(c => c.Name == DockerCalls.Create && c.Container == wait.Container);
        var first = observer.FirstCommand ?? throw new InvalidOperationException($"task {taskId} reported no command");
        return new RunTimes(Timing.Ms(started, ended), Timing.Ms(started, create.Start), Timing.Ms(create.Start, first), wait.Ms, only, calls);
    }

    private sealed record RunTimes(double WallMs, double StartToCreateMs, double CreateToFirstCommandMs, double TaskContainerMs, TaskResult Result, IReadOnlyList<CallEvent> Calls)
    {
        public string PassedLine(string marker) =>
            Result.Evidence.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Contains(marker, StringComparison.Ordinal)) ?? $"no line with '{marker}' in the evidence";
    }

    private static async Task BuildBaseAsync(BaseImage image, Measuring m, CancellationToken cancellationToken)
    {
        var context = Path.Combine(m.Scratch, "base-context");
        Directory.CreateDirectory(context);
        try
        {
            await image.FillContextAsync(context, cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), image.Dockerfile, cancellationToken);
            await Shell.RunAsync("docker", ["build", "--no-cache", "-q", "--label", $"{TaskOverheadBenchmark.BenchLabel}={m.Session}", "-t", image.Tag, context], cancellationToken);
        }
        finally
        {
            TreeDeletion.Delete(context);
        }
    }

    private sealed record SizedImage(string Tag, long Bytes);

    private sealed record ToolchainImages(SizedImage Base, SizedImage Environment, SizedImage Setup, IReadOnlyList<string> Artifacts)
    {
        public string Describe() =>
            $"base {EnvironmentSize(Base)}, environment {EnvironmentSize(Environment)} (+{Megabytes(Environment.Bytes - Base.Bytes)}), "
            + $"setup {EnvironmentSize(Setup)} (+{Megabytes(Setup.Bytes - Environment.Bytes)} over the environment image)";

        private static string EnvironmentSize(SizedImage image) => $"{image.Tag} {Megabytes(image.Bytes)}";
    }

    /// <summary>The base, environment and setup images of this repository's scope, with their sizes and setup's artefact list.</summary>
    private static async Task<ToolchainImages> ImagesAsync(Measuring m, string scope, Toolchain toolchain, CancellationToken cancellationToken)
    {
        var scoped = await m.Docker.ListImagesAsync(LabelSelector.Of(Labels.Scope, scope), cancellationToken);
        SizedImage Tagged(string prefix) => scoped.SelectMany(i => i.Tags.Select(t => new SizedImage(t, i.SizeBytes))).FirstOrDefault(t => t.Tag.StartsWith(prefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"no {prefix}* image of scope {scope} after the cold run");
        var baseImage = toolchain.Base is { } named
            ? new SizedImage(named.Tag, (await m.Client.Images.InspectImageAsync(named.Tag, cancellationToken)).Size)
            : Tagged("sandbox-runner/envbase:");
        var setup = Tagged("sandbox-runner/setup:");
        var facts = await m.Engine.InspectImageAsync(setup.Tag, cancellationToken) ?? throw new InvalidOperationException($"{setup.Tag} vanished");
        return new ToolchainImages(baseImage, Tagged("sandbox-runner/env:"), setup, SetupRecord.FromLabels(facts.Labels).Artifacts);
    }

    /// <summary>How much the setup image holds in the workspace (its artefacts) and in HOME (package caches), by a throwaway container of it.</summary>
    private static async Task<string> KeptAsync(string setupImage, string session, CancellationToken cancellationToken)
    {
        var output = await Shell.RunAsync("docker", [
            "run", "--rm", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", "--network", "none", setupImage, "/bin/sh", "-c",
            $"du -sb /workspace | cut -f1; du -sb {SetupRun.Home} | cut -f1",
        ], cancellationToken);
        var bytes = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        return bytes.Length == 2
            ? $"/workspace {Megabytes(bytes[0])}, HOME ({SetupRun.Home}) {Megabytes(bytes[1])}"
            : throw new InvalidOperationException($"could not measure {setupImage}: {output}");
    }

    private static string Megabytes(long bytes) => (bytes / 1e6).ToString("F1", CultureInfo.InvariantCulture) + " MB";

    /// <summary>Removes this session's containers, every image of its repositories' scopes (children first) and the base images it built.</summary>
    private static async Task CleanUpAsync(DockerEngine docker, DockerClient client, EngineCallRecorder timing, string session, IReadOnlyList<string> scopes, IReadOnlyList<string> baseImages)
    {
        var scoped = new List<string>();
        foreach (var scope in scopes)
        {
            scoped.AddRange(await docker.ListContainersAsync(Labels.Scope, scope, CancellationToken.None));
        }

        await TaskOverheadBenchmark.RemoveDockerObjectsAsync(docker, client, session, timing.Created.Keys.Concat(scoped), timing.CreatedNetworks.Keys);
        var left = new List<string>();
        foreach (var scope in scopes)
        {
            var images = await docker.ListImagesAsync(LabelSelector.Of(Labels.Scope, scope), CancellationToken.None);
            foreach (var tag in images.OrderByDescending(i => i.Created).SelectMany(i => i.Tags))
            {
                await docker.RemoveImageAsync(tag, CancellationToken.None);
            }

            left.AddRange((await docker.ListImagesAsync(LabelSelector.Of(Labels.Scope, scope), CancellationToken.None)).SelectMany(i => i.Tags));
            left.AddRange(await docker.ListContainersAsync(Labels.Scope, scope, CancellationToken.None));
        }

        foreach (var tag in baseImages)
        {
            await docker.RemoveImageAsync(tag, CancellationToken.None);
        }

        left.AddRange(await docker.ListContainersAsync(TaskOverheadBenchmark.BenchLabel, session, CancellationToken.None));
        Console.Error.WriteLine(left.Count == 0
            ? "toolchains: removed this session's containers and images; nothing left behind"
            : $"toolchains: left behind (remove by hand): {string.Join(", ", left)}");
    }
}

/// <summary>The runner's progress as it arrives, timestamped: the first agent command, and how long setup took from its start to its commit.</summary>
internal sealed class ToolchainObserver : IProgress<TaskProgress>
{
    private readonly ConcurrentQueue<(long At, string Message)> _environment = new();
    private long _firstCommand;

    public long? FirstCommand => Interlocked.Read(ref _firstCommand) is var at and not 0 ? at : null;

    public bool SetupReused => _environment.Any(e => e.Message.Contains("setup reused", StringComparison.Ordinal));

    /// <summary>From "running setup" to "setup done" as the runner reported them.</summary>
    public double? SetupMs =>
        _environment.FirstOrDefault(e => e.Message.Contains("running setup", StringComparison.Ordinal)) is { At: not 0 } began
        && _environment.FirstOrDefault(e => e.Message.Contains("setup done", StringComparison.Ordinal)) is { At: not 0 } done
            ? Timing.Ms(began.At, done.At)
            : null;

    public void Clear()
    {
        _environment.Clear();
        Interlocked.Exchange(ref _firstCommand, 0);
    }

    public void Report(TaskProgress value)
    {
        var now = Stopwatch.GetTimestamp();
        if (value.State == "environment")
        {
            _environment.Enqueue((now, value.Message));
        }
        else if (value.State == "command")
        {
            Interlocked.CompareExchange(ref _firstCommand, now, 0);
        }
    }
}
