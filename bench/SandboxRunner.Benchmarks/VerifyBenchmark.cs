using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Verification;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// What verifying costs: the Node repository of <c>environments</c> (its setup reused after a cold first run), one
/// task whose fake Codex edits a source file, run with <c>verify: ["npm test"]</c> and without it, interleaved with
/// the same <c>npm test</c> in a bare <c>docker run --rm</c> of the same content (the setup image with the base
/// commit's checkout committed onto it, which is what the run image is). The verification is split into its
/// engine calls (the fresh container's create, the changed files laid over, the objects, start, the command, removal).
/// </summary>
internal static class VerifyBenchmark
{
    private const int RunCount = 9;
    private const int WarmUps = 2;
    private const string Command = "npm test";

    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        using var bench = BenchSession.Open();
        var (session, scratch, docker, client) = (bench.Id, bench.Scratch, bench.Docker, bench.Client);
        var (engine, timing, git) = (bench.Docker, bench.Timing, bench.Git);
        var observer = new RunObserver();
        Runner? runner = null;
        var codexImage = $"sandbox-runner-bench/fake-codex:{session}";
        var bareImage = $"sandbox-runner-bench/verify-bare:{session}";
        var load = Load();
        try
        {
            await Shell.RunAsync("docker", ["tag", TaskOverheadBenchmark.Image, codexImage], cancellationToken);
            Console.Error.WriteLine("verify: generating the Node repository and its lock file (npm on this machine)");
            var repoPath = Path.Combine(scratch, "repo");
            await NodeRepository.CreateAsync(repoPath, session, cancellationToken);
            var host = await HostRepository.OpenAsync(git, repoPath, cancellationToken);
            var config = RunnerConfig.Default with
            {
                Image = codexImage,
                CodexModel = "gpt-5.5",
                AllowedCommands = [],
                DefaultAllowedPaths = ["**"],
                NetworkPolicy = NetworkPolicy.None,
                Environment = NodeRepository.Environment,
            };
            runner = new Runner(host, config, engine.Backend, git, NullLoggerFactory.Instance, hostEnvironment: _ => null);

            Console.Error.WriteLine("verify: cold run (toolchain image, npm ci; minutes)");
            await RunOnceAsync(runner, observer, "cold", verify: false, cancellationToken);
            var setupImage = observer.SetupImage ?? throw new InvalidOperationException("the cold run named no setup image in its progress");
            await CommitBareImageAsync(setupImage, bareImage, repoPath, session, cancellationToken);

            var bare = new Samples($"bare `docker run --rm <setup image + checkout> sh -c '{Command}'`  [CLI]");
            var verification = new Samples("verification: fresh container created -> removed (verification.duration_ms)");
            var command = new Samples($"  of which `{Command}` itself (verification.commands[0].duration_ms)");
            var withVerify = new Samples("one task with verify, whole Runner.RunAsync");
            var without = new Samples("one task without verify, whole Runner.RunAsync");
            var phases = new ResultTable("verification's engine calls (medians of the measured runs)");
            Console.Error.Write($"verify: {WarmUps} + {RunCount} rounds (bare run, task with verify, task without) ");
            for (var i = 0; i < WarmUps + RunCount; i++)
            {
                var measured = i >= WarmUps;
                Console.Error.Write(measured ? "." : "w");
                var a = await Timing.TimeAsync(() => Shell.RunAsync("docker",
                    ["run", "--rm", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", "--network", "none", "-u", "1000:1000", "-w", "/workspace",
                     "-e", $"HOME={Environments.SetupRun.Home}", "-e", "CI=true", bareImage, "/bin/sh", "-c", Command], cancellationToken));
                timing.Clear();
                var (verified, b) = await RunOnceAsync(runner, observer, $"verified-{i}", verify: true, cancellationToken);
                var calls = VerifyCalls(timing);
                var (_, c) = await RunOnceAsync(runner, observer, $"plain-{i}", verify: false, cancellationToken);
                if (!measured)
                {
                    continue;
                }

                bare.Add(a);
                verification.Add(verified.Verification!.DurationMs);
                command.Add(verified.Verification.Commands[0].DurationMs);
                withVerify.Add(b);
                without.Add(c);
                foreach (var (name, ms) in calls)
                {
                    phases.Row(name, name).Add(ms);
                }
            }

            Console.Error.WriteLine();
            var table = new ResultTable($"verify: `{Command}` on a reused Node environment (setup reused, network none; load {load} -> {Load()})");
            table.Include(bare);
            table.Include(verification);
            table.Include(command);
            table.Include(withVerify);
            table.Include(without);
            table.Note($"verification / bare run: {verification.Median / bare.Median:F2}x at the median; a task with verify took {withVerify.Median - without.Median:F0} ms more than one without.\n");
            Console.WriteLine(table.Render());
            Console.WriteLine(phases.Render());
        }
        finally
        {
            runner?.Dispose();
            var scoped = runner is null ? [] : await docker.ListContainersAsync(Labels.Scope, Labels.ScopeOf(runner.Repository.CommonDir), CancellationToken.None);
            await TaskOverheadBenchmark.RemoveDockerObjectsAsync(docker, client, session, timing.Created.Keys.Concat(scoped), timing.CreatedNetworks.Keys);
            foreach (var image in (string[])[bareImage, codexImage])
            {
                await docker.RemoveImageAsync(image, CancellationToken.None);
            }

            if (runner is not null)
            {
                // The images keyed to this session's Dockerfile serve no later run; newest first, children before parents.
                foreach (var tag in (await docker.ListImagesAsync(LabelSelector.Of(Labels.Scope, Labels.ScopeOf(runner.Repository.CommonDir)), CancellationToken.None)).OrderByDescending(i => i.Created).SelectMany(i => i.Tags))
                {
                    await docker.RemoveImageAsync(tag, CancellationToken.None);
                }
            }

            TreeDeletion.Delete(scratch);
        }
    }

    /// <summary>One run of one task (the fake Codex edits src/index.js); fails unless it succeeded.</summary>
    private static async Task<(TaskResult Result, TimeSpan Elapsed)> RunOnceAsync(Runner runner, RunObserver observer, string id, bool verify, CancellationToken cancellationToken)
    {
        observer.Clear();
        var task = new TaskRequest { TaskId = id, Prompt = $"@write src/index.js module.exports = (a, b) => a + b; // {id}\\n\n@message done" };
        var started = Stopwatch.GetTimestamp();
        var run = await runner.RunAsync(new RunRequest { Tasks = [task], Verify = verify ? [Command] : [] }, observer, cancellationToken);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var result = run.Results.Single();
        if (result.Status != Runs.TaskStatus.Success || (verify && result.Verification?.Status != VerificationStatus.Passed))
        {
            throw new InvalidOperationException($"task {id} ended {result.Status.Wire()}: {result.NotesForManager}");
        }

        return (result, elapsed);
    }

    /// <summary>The verification container's engine calls by name (summed per name), from its creation to its removal.</summary>
    private static IReadOnlyList<(string Name, double Ms)> VerifyCalls(EngineCallRecorder timing)
    {
        var verifyContainers = timing.Specs.Where(s => s.Value.Labels.GetValueOrDefault(Labels.Role) == Labels.VerifyRole).Select(s => s.Key).ToHashSet(StringComparer.Ordinal);
        return timing.Events
            .Where(e => e.Container is not null && verifyContainers.Contains(e.Container))
            .GroupBy(e => e.Name == DockerCalls.ExecStart ? $"{e.Name} (the commands run: rm of deleted paths, the verify command)" : e.Name)
            .Select(g => (g.Key, g.Sum(e => e.Ms)))
            .ToList();
    }

    /// <summary>The bare run's image: the setup image with the base commit's checkout in /workspace, owned by uid 1000, as the run image has it.</summary>
    private static async Task CommitBareImageAsync(string setupImage, string tag, string repoPath, string session, CancellationToken cancellationToken)
    {
        var id = (await Shell.RunAsync("docker", ["create", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", "-u", "1000:1000", setupImage, "true"], cancellationToken)).Trim();
        try
        {
            var archive = Path.Combine(Path.GetTempPath(), $"sr-bench-verify-{session}.tar");
            try
            {
                await Shell.GitAsync(repoPath, cancellationToken, "archive", "--format=tar", "-o", archive, "HEAD");
                await Shell.RunAsync("docker", ["cp", archive, $"{id}:/tmp/checkout.tar"], cancellationToken);
            }
            finally
            {
                File.Delete(archive);
            }

            await Shell.RunAsync("docker", ["commit", id, $"{tag}-staged"], cancellationToken);
        }
        finally
        {
            await Shell.RunAsync("docker", ["rm", "-f", id], CancellationToken.None);
        }

        // Unpacked by uid 1000 itself, so the files are its own, as in the run image.
        var unpack = (await Shell.RunAsync("docker", ["create", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", "-u", "1000:1000", "-w", "/workspace", $"{tag}-staged",
            "/bin/sh", "-c", "tar -xf /tmp/checkout.tar -C /workspace"], cancellationToken)).Trim();
        try
        {
            await Shell.RunAsync("docker", ["start", "-a", unpack], cancellationToken);
            await Shell.RunAsync("docker", ["commit", unpack, tag], cancellationToken);
        }
        finally
        {
            await Shell.RunAsync("docker", ["rm", "-f", unpack], CancellationToken.None);
            await Shell.RunAsync("docker", ["rmi", $"{tag}-staged"], CancellationToken.None);
        }
    }

    private static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
