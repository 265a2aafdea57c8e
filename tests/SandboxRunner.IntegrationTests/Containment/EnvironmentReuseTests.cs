using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Containment;

/// <summary>
/// Environment reuse holds across runs and repositories (issue 21, breaches 3 to 6): a setup or environment
/// image is reused only when everything that could have shaped it is the same, and a task's work under a setup
/// artefact is never dropped silently. Each breach beside an honest run that keeps its result.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class EnvironmentReuseTests(DockerFixture docker)
{
    /// <summary>A setup whose output differs every time it runs, so a test can tell a reused setup from a fresh one.</summary>
    private const string StampSetup = "mkdir -p deps && od -An -N8 -tx1 /dev/urandom | tr -d ' \\n' > deps/stamp && cp deps/stamp \"$HOME/.stamp\"";

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(4);

    private static EnvironmentSpec Spec(params string[] setup) => new() { BaseImage = "debian:bookworm-slim", Setup = setup, CacheKeys = ["deps.lock"] };

    private async Task<RunnerHarness> HarnessAsync(EnvironmentSpec spec, string lockFile)
    {
        var h = await RunnerHarness.CreateAsync(docker, c => c with { Environment = spec });
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("deps.lock", lockFile);
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "environment");
        return h;
    }

    private static async Task<TaskResult> RunOneAsync(RunnerHarness h, string? baseRef, params string[] steps)
    {
        h.Progress.Clear();
        var run = await h.RunAsync(new RunRequest { BaseRef = baseRef, Tasks = [RunnerHarness.Task("t", steps)] }, CancellationToken.None).WaitAsync(Bound);
        var result = Assert.Single(run.Results);
        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}\n{result.Logs.Stderr}");
        return result;
    }

    private static bool Said(RunnerHarness h, string words) => h.Progress.Any(p => p.Message.Contains(words, StringComparison.Ordinal));

    [Fact]
    public async Task Another_repository_with_the_same_setup_and_lock_file_runs_its_own_setup_and_sees_none_of_the_first_ones_artefacts()
    {
        var lockFile = $"lock {Guid.NewGuid():N}\n";
        await using var a = await HarnessAsync(Spec(StampSetup), lockFile);
        await using var b = await HarnessAsync(Spec(StampSetup), lockFile);

        var first = await RunOneAsync(a, null, "@run 0 cat deps/stamp ~/.stamp");
        var again = await RunOneAsync(a, null, "@run 0 cat deps/stamp ~/.stamp");
        Assert.True(Said(a, "setup reused"), "the first repository's second run reuses its own setup");
        var other = await RunOneAsync(b, null, "@run 0 cat deps/stamp ~/.stamp");

        Assert.True(Said(b, "running setup") && !Said(b, "setup reused"), "the second repository must run its own setup");
        Assert.Equal(first.CommandsRun[0].OutputTail, again.CommandsRun[0].OutputTail);
        Assert.NotEqual(first.CommandsRun[0].OutputTail, other.CommandsRun[0].OutputTail);
    }

    [Fact]
    public async Task A_run_on_a_branch_outside_the_head_history_never_feeds_the_setup_the_default_branch_reuses()
    {
        await using var h = await HarnessAsync(Spec(StampSetup), $"lock {Guid.NewGuid():N}\n");
        h.Repository.Git("checkout", "-qb", "agent-result");
        h.Repository.Write("tools/setup.sh", "echo an agent changed this\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "an agent's change");
        h.Repository.Git("checkout", "-q", "-");

        var onBranch = await RunOneAsync(h, "agent-result", "@run 0 cat deps/stamp");
        Assert.True(Said(h, "running setup"), "the branch run sets up");
        var onMain = await RunOneAsync(h, null, "@run 0 cat deps/stamp");
        Assert.True(Said(h, "running setup") && !Said(h, "setup reused"), "a default-branch run must not reuse what a branch run built");
        var onBranchAgain = await RunOneAsync(h, "agent-result", "@run 0 cat deps/stamp");

        Assert.True(Said(h, "setup reused"), "a branch run may reuse the default branch's setup");
        Assert.NotEqual(onBranch.CommandsRun[0].OutputTail, onMain.CommandsRun[0].OutputTail);
        Assert.Equal(onMain.CommandsRun[0].OutputTail, onBranchAgain.CommandsRun[0].OutputTail);
    }

    [Fact]
    public async Task A_tasks_work_under_folders_setup_made_comes_back_and_ignored_artefact_churn_is_named_in_a_note()
    {
        await using var h = await HarnessAsync(Spec("mkdir -p src/lib gen deps && echo made > src/lib/made.txt && echo made > gen/made.txt && echo v1 > deps/lib.txt"), $"lock {Guid.NewGuid():N}\n");

        var result = await RunOneAsync(h, null,
            "@write src/lib/feature.txt the task's work\\n",
            "@write gen/feature.txt more of the task's work\\n",
            "@write src/seen.txt seen\\n",
            "@write deps/lib.txt churn",
            "@write deps/new.txt churn");

        Assert.Equal(["gen/feature.txt", "src/lib/feature.txt", "src/seen.txt"], result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.DoesNotContain("made.txt", result.Patch, StringComparison.Ordinal);
        Assert.Contains("2 changed path(s) under the environment's setup artefacts were not harvested", result.NotesForManager, StringComparison.Ordinal);
        Assert.Contains("deps/lib.txt, deps/new.txt", result.NotesForManager, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_repositories_with_the_same_dockerfile_each_build_their_own_context_and_dockerignore_keeps_files_out()
    {
        const string dockerfile = "FROM debian:bookworm-slim\nCOPY tools/ /opt/tools/\n";
        var spec = new EnvironmentSpec { Dockerfile = "env.Dockerfile" };
        var unique = Guid.NewGuid().ToString("N");
        await using var a = await RunnerHarness.CreateAsync(docker, c => c with { Environment = spec });
        await using var b = await RunnerHarness.CreateAsync(docker, c => c with { Environment = spec });
        foreach (var (h, tool) in new[] { (a, "A"), (b, "B") })
        {
            h.Repository.Write("env.Dockerfile", dockerfile);
            h.Repository.Write("tools/check", $"tool of repository {tool} {unique}\n");
            h.Repository.Write("tools/secret.txt", "kept out by .dockerignore\n");
            h.Repository.Write(".dockerignore", "tools/secret.txt\n");
            h.Repository.Git("add", "-A");
            h.Repository.Git("commit", "-qm", "a Dockerfile environment");
        }

        var fromA = await RunOneAsync(a, null, "@run 0 cat /opt/tools/check", "@run 1 test -e /opt/tools/secret.txt");
        var fromB = await RunOneAsync(b, null, "@run 0 cat /opt/tools/check", "@run 1 test -e /opt/tools/secret.txt");

        Assert.Contains($"tool of repository A {unique}", fromA.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.Contains($"tool of repository B {unique}", fromB.CommandsRun[0].OutputTail, StringComparison.Ordinal);
        Assert.All([fromA, fromB], r => Assert.Equal(1, r.CommandsRun[1].ExitCode));
    }

    [Fact]
    public async Task A_setup_that_reads_a_file_its_cache_keys_do_not_cover_fails_naming_the_file_and_the_option_and_covering_it_works()
    {
        var spec = Spec("sh tools/setup.sh");
        await using var h = await HarnessAsync(spec, $"lock {Guid.NewGuid():N}\n");
        h.Repository.Write("tools/setup.sh", "mkdir -p deps && echo from-the-script > deps/lib.txt\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "a setup script");

        var failed = Assert.Single((await h.RunAsync(RunnerHarness.Task("t", "@message never")).WaitAsync(Bound)).Results);
        Assert.Equal(TaskStatus.Failed, failed.Status);
        Assert.Contains("'tools/setup.sh'", failed.NotesForManager, StringComparison.Ordinal);
        Assert.Contains("to environment.cache_keys", failed.NotesForManager, StringComparison.Ordinal);

        using var covered = h.SecondRunner(h.Runner.Config with { Environment = spec with { CacheKeys = ["deps.lock", "tools/setup.sh"] } });
        var result = Assert.Single((await covered.RunAsync(new RunRequest { Tasks = [RunnerHarness.Task("t", "@run 0 grep -q from-the-script deps/lib.txt")] }, null, CancellationToken.None)).Results);
        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
    }

    [Fact]
    public async Task Without_cache_keys_setup_sees_the_manifests_and_lock_files_and_nothing_else()
    {
        var spec = new EnvironmentSpec { BaseImage = "debian:bookworm-slim", Setup = ["test -f package.json && test -f web/package-lock.json && test ! -e README.md && test ! -e src && mkdir -p deps"] };
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Environment = spec });
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("package.json", $"{{ \"name\": \"n{Guid.NewGuid():N}\" }}\n");
        h.Repository.Write("web/package-lock.json", "{}\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "manifests");

        await RunOneAsync(h, null, "@run 0 test -d deps", "@run 0 test -f README.md");

        Assert.True(Said(h, "running setup"));
    }

    [Fact]
    public async Task A_cache_key_that_matches_no_file_is_refused_before_anything_is_created_and_the_same_run_without_it_sets_up()
    {
        await using var h = await HarnessAsync(Spec("mkdir -p deps") with { CacheKeys = ["deps.lock", "yarn.lock"] }, $"lock {Guid.NewGuid():N}\n");

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => h.RunAsync(RunnerHarness.Task("t", "@message never")));

        var problem = Assert.Single(refused.Problems);
        Assert.Equal("environment.cache_keys[1]", problem.Field);
        Assert.Contains("'yarn.lock' matches no file", problem.Rule, StringComparison.Ordinal);
        Assert.Empty(h.Engine.Specs);

        using var fixedRunner = h.SecondRunner(h.Runner.Config with { Environment = Spec("mkdir -p deps") });
        var result = Assert.Single((await fixedRunner.RunAsync(new RunRequest { Tasks = [RunnerHarness.Task("t", "@run 0 test -d deps")] }, null, CancellationToken.None)).Results);
        Assert.Equal(TaskStatus.Success, result.Status);
    }
}
