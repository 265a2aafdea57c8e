using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>
/// Environments with the fake Codex on a plain Debian base: setup runs once and is committed, tasks start
/// with its artefacts in place, what they do to them stays theirs, and setup failures leave nothing.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class EnvironmentRunTests(DockerFixture docker)
{
    private static EnvironmentSpec Spec(params string[] setup) => new()
    {
        BaseImage = "debian:bookworm-slim",
        Setup = setup,
        CacheKeys = ["deps.lock"],
    };

    private static async Task<RunnerHarness> HarnessAsync(DockerFixture docker, EnvironmentSpec spec)
    {
        var h = await RunnerHarness.CreateAsync(docker, c => c with { Environment = spec });
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("deps.lock", $"lock {Guid.NewGuid():N}\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");
        return h;
    }

    [Fact]
    public async Task Tasks_start_with_the_setup_artefacts_and_their_changes_to_them_stay_out_of_the_result()
    {
        await using var h = await HarnessAsync(docker, Spec("mkdir -p deps && echo v1 > deps/lib.txt"));

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "edit",
            "@run 0 grep -q v1 deps/lib.txt",
            "@write deps/lib.txt changed by the task",
            "@write deps/new.txt new in deps",
            "@write src/new.txt brand new\\n",
            "@append README.md more docs\\n",
            "@delete docs/old.txt",
            "@message done"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Equal(["README.md", "docs/old.txt", "src/new.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.DoesNotContain("deps/", result.Patch, StringComparison.Ordinal);
        Assert.True(result.PatchApplicable, result.ApplyCheckLog);
        Assert.Equal("default", result.Environment);
        Assert.Equal(0, Assert.Single(result.CommandsRun).ExitCode);
    }

    [Fact]
    public async Task A_task_that_changes_nothing_succeeds_with_no_files_changed()
    {
        await using var h = await HarnessAsync(docker, Spec("mkdir -p deps && echo v1 > deps/lib.txt"));

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("idle", "@run 0 true", "@message nothing to do"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        Assert.Empty(result.FilesChanged);
    }

    [Fact]
    public async Task Two_tasks_that_change_the_artefacts_do_not_see_each_others_changes()
    {
        await using var h = await HarnessAsync(docker, Spec("mkdir -p deps && echo v1 > deps/lib.txt"));

        var results = (await h.RunAsync(
            RunnerHarness.Task("a", "@write deps/lib.txt from a", "@sleep 2", "@run 0 grep -qx 'from a' deps/lib.txt", "@message a"),
            RunnerHarness.Task("b", "@write deps/lib.txt from b", "@sleep 2", "@run 0 grep -qx 'from b' deps/lib.txt", "@message b"))).Results;

        Assert.All(results, r => Assert.True(r.Status == TaskStatus.Success, $"{r.TaskId} {r.Status}: {r.NotesForManager}\n{r.Logs.Stderr}"));
        Assert.All(results, r => Assert.All(r.CommandsRun, c => Assert.Equal(0, c.ExitCode)));
    }

    [Fact]
    public async Task A_second_run_reuses_the_setup_and_a_changed_cache_key_runs_it_again()
    {
        await using var h = await HarnessAsync(docker, Spec("mkdir -p deps && date +%s%N > deps/stamp"));

        await h.RunAsync(RunnerHarness.Task("first", "@message one"));
        Assert.Contains(h.Progress, p => p.Message.Contains("running setup", StringComparison.Ordinal));
        h.Progress.Clear();

        await h.RunAsync(RunnerHarness.Task("second", "@message two"));
        Assert.Contains(h.Progress, p => p.Message.Contains("setup reused", StringComparison.Ordinal));
        Assert.DoesNotContain(h.Progress, p => p.Message.Contains("running setup", StringComparison.Ordinal));
        h.Progress.Clear();

        h.Repository.Write("deps.lock", "changed\n");
        h.Repository.Git("commit", "-qam", "new lock");
        await h.RunAsync(RunnerHarness.Task("third", "@message three"));
        Assert.Contains(h.Progress, p => p.Message.Contains("running setup", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_new_codex_image_reuses_the_setup_made_with_the_old_one()
    {
        const string variant = "sandbox-runner-test/fake-codex-variant:dev";
        await docker.Engine.BuildImageAsync(new ImageRecipe(variant,
            new Dictionary<string, byte[]> { ["Dockerfile"] = Encoding.UTF8.GetBytes($"FROM {DockerFixture.FakeCodexImage}\nLABEL variant=1\n") },
            new Dictionary<string, string>()), CancellationToken.None);
        var spec = Spec("mkdir -p deps && date +%s%N > deps/stamp");
        await using var h = await HarnessAsync(docker, spec);

        // The same repository (setup images are never another repository's), served again with another Codex image.
        await h.RunAsync(RunnerHarness.Task("old", "@message old codex"));
        Assert.Contains(h.Progress, p => p.Message.Contains("running setup", StringComparison.Ordinal));
        using var upgraded = h.SecondRunner(h.Runner.Config with { Image = variant });
        var progress = new List<TaskProgress>();
        var result = Assert.Single((await upgraded.RunAsync(
            new RunRequest { Tasks = [RunnerHarness.Task("new", "@run 0 test -s deps/stamp", "@message new codex")] }, new Progress(progress), CancellationToken.None)).Results);

        Assert.Contains(progress, p => p.Message.Contains("setup reused", StringComparison.Ordinal));
        Assert.DoesNotContain(progress, p => p.Message.Contains("running setup", StringComparison.Ordinal));
        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
    }

    private sealed class Progress(List<TaskProgress> seen) : IProgress<TaskProgress>
    {
        public void Report(TaskProgress value)
        {
            lock (seen)
            {
                seen.Add(value);
            }
        }
    }

    [Fact]
    public async Task A_failing_setup_fails_every_task_with_its_command_and_output_and_starts_no_task_container()
    {
        await using var h = await HarnessAsync(docker, Spec("echo preparing", "echo the registry said no >&2; exit 7"));

        var results = (await h.RunAsync(RunnerHarness.Task("a", "@message a"), RunnerHarness.Task("b", "@message b"))).Results;

        Assert.All(results, r =>
        {
            Assert.Equal(TaskStatus.Failed, r.Status);
            Assert.StartsWith("environment.setup[1]: `echo the registry said no >&2; exit 7` (command 2 of 2) exited with 7; fix the command in setup (its log: ", r.NotesForManager, StringComparison.Ordinal);
            Assert.Contains("\nits last lines:\nthe registry said no", r.NotesForManager, StringComparison.Ordinal);
            Assert.DoesNotContain("preparing", r.NotesForManager, StringComparison.Ordinal);
        });
        Assert.DoesNotContain(h.Engine.Specs.Values, s => s.Labels[Labels.Task] is "a" or "b");
    }

    [Fact]
    public async Task Tracked_files_setup_changes_are_reported_and_not_kept()
    {
        await using var h = await HarnessAsync(docker, Spec("echo regenerated >> deps.lock", "mkdir -p deps"));

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("look", "@run 1 grep -q regenerated deps.lock", "@message looked"))).Results);

        Assert.Contains("setup changed tracked files", result.NotesForManager, StringComparison.Ordinal);
        Assert.Contains("deps.lock", result.NotesForManager, StringComparison.Ordinal);
        Assert.Empty(result.FilesChanged);
    }

    [Fact]
    public async Task A_dry_run_refuses_a_base_image_without_git_naming_what_it_lacks_and_the_fix()
    {
        const string noGit = "sandbox-runner-test/no-git:dev";
        await docker.Engine.BuildImageAsync(new ImageRecipe(noGit,
            new Dictionary<string, byte[]> { ["Dockerfile"] = "FROM debian:bookworm-slim\nRUN rm -f /usr/bin/git\n"u8.ToArray() },
            new Dictionary<string, string>()), CancellationToken.None);
        await using var h = await HarnessAsync(docker, Spec("true") with { BaseImage = noGit });

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() =>
            h.RunAsync(new RunRequest { Tasks = [RunnerHarness.Task("t", "@message never")], DryRun = true }, CancellationToken.None));

        var problem = Assert.Single(refused.Problems);
        Assert.Equal("environment", problem.Field);
        Assert.True(refused.Message.StartsWith($".mcp-codex.json: environment: base image '{noGit}' cannot run tasks: it lacks git", StringComparison.Ordinal), refused.Message);
        Assert.Contains("apt-get install -y git bash", problem.Rule, StringComparison.Ordinal);
        Assert.Empty(h.Engine.Specs);
    }

    [Fact]
    public async Task The_doctor_shows_the_image_an_environment_would_use_and_whether_its_setup_is_cached()
    {
        await using var h = await HarnessAsync(docker, Spec("mkdir -p deps"));
        h.Repository.WriteConfig($$"""
            { "image": "{{DockerFixture.FakeCodexImage}}", "environment": { "base_image": "debian:bookworm-slim", "setup": ["mkdir -p deps"], "cache_keys": ["deps.lock"] } }
            """);
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "config");
        var git = new GitCli(Microsoft.Extensions.Logging.Abstractions.NullLogger<GitCli>.Instance);

        var before = await Doctor.ExamineAsync(h.Repository.Path, docker.Engine.Backend, git, _ => null, CancellationToken.None);
        await h.RunAsync(RunnerHarness.Task("t", "@message set up"));
        var after = await Doctor.ExamineAsync(h.Repository.Path, docker.Engine.Backend, git, _ => null, CancellationToken.None);

        var first = Assert.Single(before.Checks, c => c.Check == "environment default");
        Assert.Equal(Doctor.Ok, first.Status);
        Assert.Contains("debian:bookworm-slim → sandbox-runner/env:", first.Detail, StringComparison.Ordinal);
        Assert.Contains("runs once on the next run", first.Detail, StringComparison.Ordinal);
        Assert.Contains("setup cached", Assert.Single(after.Checks, c => c.Check == "environment default").Detail, StringComparison.Ordinal);
    }
}
