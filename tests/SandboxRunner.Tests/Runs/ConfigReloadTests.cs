using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Runs.RunnerTestBed;
using SandboxRunner.Platform;

namespace SandboxRunner.Tests.Runs;

/// <summary>An edited <c>.mcp-codex.json</c> reaches a running server's next call; runs in progress keep theirs.</summary>
public sealed class ConfigReloadTests
{
    // What the fake engine needs: its image, no egress proxy, every path and command allowed.
    private const string Base = "\"image\": \"fake:dev\", \"network_policy\": \"none\", \"allowed_commands\": [], \"default_allowed_paths\": [\"**\"]";

    [Fact]
    public async Task An_edited_config_is_used_by_the_next_call()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"codex_model\": \"model-a\"");
        Assert.Equal("model-a", (await workspace.GetRunnerAsync(CancellationToken.None)).Config.CodexModel);

        WriteConfig(bed, "\"codex_model\": \"model-b\"");

        Assert.Equal("model-b", (await workspace.GetRunnerAsync(CancellationToken.None)).Config.CodexModel);
    }

    [Fact]
    public async Task An_unchanged_config_keeps_its_runner()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"codex_model\": \"model-a\"");
        var first = await workspace.GetRunnerAsync(CancellationToken.None);

        Assert.Same(first, await workspace.GetRunnerAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_edit_of_only_comments_or_spacing_keeps_its_runner()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"codex_model\": \"model-a\"");
        var first = await workspace.GetRunnerAsync(CancellationToken.None);

        File.WriteAllText(ConfigPath(bed), $"// a comment\n{{ {Base},   \"$schema\": \"./x.json\",  \"codex_model\": \"model-a\" }}\n");

        Assert.Same(first, await workspace.GetRunnerAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_edit_that_keeps_the_size_and_modification_time_is_still_seen()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"default_timeout_sec\": 300");
        await workspace.GetRunnerAsync(CancellationToken.None);
        var stamp = File.GetLastWriteTimeUtc(ConfigPath(bed));

        WriteConfig(bed, "\"default_timeout_sec\": 600");
        File.SetLastWriteTimeUtc(ConfigPath(bed), stamp);

        Assert.Equal(600, (await workspace.GetRunnerAsync(CancellationToken.None)).Config.DefaultTimeoutSec);
    }

    [Fact]
    public async Task A_deleted_config_means_the_defaults_again()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"max_tasks_per_run\": 3");
        await workspace.GetRunnerAsync(CancellationToken.None);

        File.Delete(ConfigPath(bed));

        Assert.Equal(RunnerConfig.Default.MaxTasksPerRun, (await workspace.GetRunnerAsync(CancellationToken.None)).Config.MaxTasksPerRun);
    }

    [Fact]
    public async Task An_invalid_edit_fails_the_call_naming_the_field_until_it_is_fixed()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"default_concurrency\": 2");
        await workspace.GetRunnerAsync(CancellationToken.None);

        WriteConfig(bed, "\"default_concurrency\": 9");
        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => workspace.GetRunnerAsync(CancellationToken.None));
        Assert.Equal("default_concurrency", Assert.Single(refusal.Problems).Field);
        await Assert.ThrowsAsync<InvalidInputException>(() => workspace.GetRunnerAsync(CancellationToken.None));

        WriteConfig(bed, "\"default_concurrency\": 3");
        Assert.Equal(3, (await workspace.GetRunnerAsync(CancellationToken.None)).Config.DefaultConcurrency);
    }

    [Fact]
    public async Task An_edited_environment_is_used_by_the_next_call()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "");
        await workspace.GetRunnerAsync(CancellationToken.None);

        // An environment replaces the fake image: image and environments may not be set together.
        File.WriteAllText(ConfigPath(bed), """{ "network_policy": "none", "environments": { "node": { "base_image": "node:22", "setup": ["npm ci"] } } }""");
        Assert.Equal(["npm ci"], (await workspace.GetRunnerAsync(CancellationToken.None)).Config.Environments["node"].Setup);

        File.WriteAllText(ConfigPath(bed), """{ "network_policy": "none", "environments": { "node": { "base_image": "node:22", "setup": ["npm install"] } } }""");
        Assert.Equal(["npm install"], (await workspace.GetRunnerAsync(CancellationToken.None)).Config.Environments["node"].Setup);
    }

    [Fact]
    public async Task An_invalid_edit_disturbs_no_run_in_progress()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "");
        var working = new TaskCompletionSource<FakeContainer>();
        bed.Engine.Agent = FakeAgents.WorksUntilKilled(c => c.WriteFile("src/a.txt", "a\n"), working);
        var runner = await workspace.GetRunnerAsync(CancellationToken.None);
        await runner.StartAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);
        await working.Task.WaitAsync(Hang);

        WriteConfig(bed, "\"network_policy\": \"open\"");
        await Assert.ThrowsAsync<InvalidInputException>(() => workspace.GetRunnerAsync(CancellationToken.None));

        Assert.Equal(1, bed.Engine.RunningCount);
        Assert.True(runner.IsActive("r1"));
        await workspace.ShutdownAsync(CancellationToken.None).WaitAsync(Hang);
        Assert.Equal(SandboxRunner.Runs.TaskStatus.Cancelled, (await bed.Store.ReadResultAsync("r1", "t1", CancellationToken.None))!.Status);
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_run_in_progress_keeps_its_config_for_tasks_it_has_not_started_yet()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"codex_model\": \"model-a\"");
        var release = new TaskCompletionSource();
        var first = new TaskCompletionSource();
        bed.Engine.Agent = FakeAgents.ByTask(new Dictionary<string, FakeAgent>
        {
            ["t1"] = async (container, killed) =>
            {
                first.TrySetResult();
                await release.Task.WaitAsync(killed);
                return await FakeAgents.Succeeds()(container, killed);
            },
        });
        var runner = await workspace.GetRunnerAsync(CancellationToken.None);
        var run = runner.RunAsync(new RunRequest { RunId = "r1", Concurrency = 1, Tasks = [Ask("t1"), Ask("t2")] }, null, CancellationToken.None);
        await first.Task.WaitAsync(Hang);

        WriteConfig(bed, "\"codex_model\": \"model-b\"");
        var edited = await workspace.GetRunnerAsync(CancellationToken.None);
        release.SetResult();
        await run.WaitAsync(Hang);
        var later = await edited.RunAsync(new RunRequest { RunId = "r2", Tasks = [Ask("t3")] }, null, CancellationToken.None).WaitAsync(Hang);

        Assert.Equal("model-a", ModelOf(bed, "r1", "t2"));
        Assert.Equal("model-b", ModelOf(bed, "r2", "t3"));
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_run_started_under_the_previous_config_is_seen_and_cancelled_through_the_new_runner()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"codex_model\": \"model-a\"");
        var working = new TaskCompletionSource<FakeContainer>();
        bed.Engine.Agent = FakeAgents.WorksUntilKilled(_ => { }, working);
        await (await workspace.GetRunnerAsync(CancellationToken.None)).StartAsync(new RunRequest { RunId = "r1", Tasks = [Ask("t1")] }, CancellationToken.None);
        await working.Task.WaitAsync(Hang);

        WriteConfig(bed, "\"codex_model\": \"model-b\"");
        var edited = await workspace.GetRunnerAsync(CancellationToken.None);

        Assert.Equal(RunState.Running, (await edited.GetRunAsync("r1", CancellationToken.None))!.Status);
        Assert.Contains(await edited.ListRunsAsync(CancellationToken.None), r => r.RunId == "r1" && r.Status == RunState.Running);
        Assert.True(edited.Cancel("r1"));
        await WaitUntilAsync(() => !edited.IsActive("r1"));
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_raised_default_concurrency_lets_waiting_tasks_of_a_running_run_start()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"default_concurrency\": 1");
        bed.Engine.Agent = FakeAgents.WorksUntilKilled(_ => { });
        var runner = await workspace.GetRunnerAsync(CancellationToken.None);
        // The run's own limit (3) is above the process's (1): only the process gate holds its tasks back.
        await runner.StartAsync(new RunRequest { RunId = "r1", Concurrency = 3, Tasks = [Ask("t1"), Ask("t2"), Ask("t3")] }, CancellationToken.None);
        // Held back, not slow: the other two queue at the gate, and nothing starts past it until it is raised.
        await WaitUntilAsync(() => bed.Engine.RunningCount == 1 && workspace.TaskGate.Waiting == 2);
        Assert.Equal(1, bed.Engine.RunningCount);

        WriteConfig(bed, "\"default_concurrency\": 3");
        await workspace.GetRunnerAsync(CancellationToken.None);

        await WaitUntilAsync(() => bed.Engine.RunningCount == 3);
        await workspace.ShutdownAsync(CancellationToken.None).WaitAsync(Hang);
        bed.AssertNothingLeft();
    }

    [Fact]
    public async Task A_dry_run_sees_the_edited_config()
    {
        using var bed = await CreateAsync();
        using var workspace = Open(bed, "\"max_tasks_per_run\": 2");
        var dry = new RunRequest { DryRun = true, Tasks = [Ask("t1"), Ask("t2")] };
        await (await workspace.GetRunnerAsync(CancellationToken.None)).RunAsync(dry, null, CancellationToken.None);

        WriteConfig(bed, "\"max_tasks_per_run\": 1");
        var refusal = await Assert.ThrowsAsync<InvalidInputException>(async () =>
            await (await workspace.GetRunnerAsync(CancellationToken.None)).RunAsync(dry, null, CancellationToken.None));

        Assert.Equal("tasks", Assert.Single(refusal.Problems).Field);
    }

    private static Workspace Open(RunnerTestBed bed, string fields)
    {
        WriteConfig(bed, fields);
        return new Workspace(bed.Path, bed.Backend, bed.GitCli, NullLoggerFactory.Instance);
    }

    private static string ConfigPath(RunnerTestBed bed) => Path.Combine(bed.Path, RunnerConfig.FileName);

    private static void WriteConfig(RunnerTestBed bed, string fields) =>
        File.WriteAllText(ConfigPath(bed), fields.Trim().Length == 0 ? $"{{ {Base} }}" : $"{{ {Base}, {fields} }}");

    /// <summary>The <c>-m</c> value the task's container was started with.</summary>
    private static string? ModelOf(RunnerTestBed bed, string runId, string taskId)
    {
        var command = bed.Engine.History.Single(c => c.RunId == runId && c.TaskId == taskId).Spec.Command;
        var at = command.ToList().IndexOf("-m");
        return at < 0 ? null : command[at + 1];
    }

    private static async Task WaitUntilAsync(Func<bool> condition) =>
        Assert.True(await Poll.UntilAsync(condition, TimeSpan.FromMilliseconds(20), Hang, CancellationToken.None), "the condition never held");
}
