using System.Diagnostics;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Platform;

namespace SandboxRunner.IntegrationTests;

/// <summary>A server killed outright (SIGKILL) mid-run: the next server on the repository cleans up and keeps the work.</summary>
[Collection(DockerCollection.Name)]
public sealed class McpRecoveryTests(DockerFixture docker)
{
    [Fact]
    public async Task A_run_of_a_killed_server_is_recovered_by_the_next_one_with_its_work_on_a_branch()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = McpServerProcess.NewRunId("killed");
        await s.Server.CallOkAsync("start_codex_run", McpServerProcess.Run(runId, McpServerProcess.TaskArg("t", "@write src/kept.txt kept by recovery\\n", "@sleep 300")));
        await s.WaitForRunningTaskAsync(runId);

        await Task.Delay(1000);
        KillServerOf(s.Repository.Path);
        await s.RestartAsync();

        // Recovery runs in the background at start; tool calls answer meanwhile.
        var run = await WaitForSettledAsync(s, runId, 1);

        Assert.Equal("interrupted", run.GetProperty("status").GetString());
        var result = run.GetProperty("tasks")[0].GetProperty("result");
        Assert.Equal("cancelled", result.GetProperty("status").GetString());
        Assert.Equal(["src/kept.txt"], result.GetProperty("files_changed").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal($"sandbox/{runId}/t", result.GetProperty("branch").GetString());
        Assert.Equal("kept by recovery\n", s.Repository.Git("show", $"sandbox/{runId}/t:src/kept.txt"));
        Assert.Empty(await s.Containers.OfRunsAsync([runId]));
        Assert.False(Directory.Exists(Path.Combine(s.Repository.GitDir, "sandbox-runner", "worktrees", runId)));
    }

    [Fact]
    public async Task A_server_nobody_calls_still_recovers_the_run_of_a_killed_one()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = McpServerProcess.NewRunId("uncalled");
        await s.Server.CallOkAsync("start_codex_run", McpServerProcess.Run(runId, McpServerProcess.TaskArg("t", "@write src/kept.txt kept\\n", "@sleep 300")));
        await s.WaitForRunningTaskAsync(runId);

        KillServerOf(s.Repository.Path);
        await s.RestartAsync();

        // No tool call: the server opens its workspace on its own shortly after start, as a manager that only
        // listed the tools and went away still expects the killed server's containers gone and its work kept.
        var recovered = await Poll.UntilAsync(
            async ct => (await s.Containers.OfRunsAsync([runId])).Count == 0
                && s.Repository.Git("branch", "--list", $"sandbox/{runId}/t").Trim().Length > 0,
            TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(2), CancellationToken.None);

        Assert.True(recovered, "the killed server's containers were not removed and its task not recovered without a tool call");
    }

    [Fact]
    public async Task A_server_killed_during_verification_leaves_a_task_whose_verification_truthfully_did_not_run()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var runId = McpServerProcess.NewRunId("verifying");
        var task = McpServerProcess.TaskArg("t", "@write src/kept.txt kept before verification\\n", "@message Done.");
        task["verify"] = new[] { "echo started-verifying", "sleep 300" };
        await s.Server.CallOkAsync("start_codex_run", McpServerProcess.Run(runId, task));
        Assert.True(
            await Poll.UntilAsync(async _ => (await s.Containers.RunningWithRoleAsync(runId, Boxes.Labels.VerifyRole)).Count > 0, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(60), CancellationToken.None),
            "the verification container never ran");

        KillServerOf(s.Repository.Path);
        await s.RestartAsync();
        var result = await RecoveredResultAsync(s, runId);

        Assert.Equal("cancelled", result.GetProperty("status").GetString());
        var verification = result.GetProperty("verification");
        Assert.Equal("not_run", verification.GetProperty("status").GetString());
        Assert.Contains("while the task was being verified", verification.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(["not_run", "not_run"], verification.GetProperty("commands").EnumerateArray().Select(c => c.GetProperty("status").GetString()));
        Assert.Contains("verification not_run: interrupted", result.GetProperty("notes_for_manager").GetString(), StringComparison.Ordinal);

        // Harvested before verification started: the work is on its branch all the same.
        Assert.Equal($"sandbox/{runId}/t", result.GetProperty("branch").GetString());
        Assert.Equal("kept before verification\n", s.Repository.Git("show", $"sandbox/{runId}/t:src/kept.txt"));
        Assert.Empty(await s.Containers.OfRunsAsync([runId]));
    }

    [Fact]
    public async Task A_recovered_task_is_judged_and_its_out_of_policy_branch_is_never_applied()
    {
        await using var s = await McpHarness.StartAsync(docker, """{"default_allowed_paths": ["src/**"]}""");
        var runId = McpServerProcess.NewRunId("judged");
        await s.Server.CallOkAsync("start_codex_run", McpServerProcess.Run(runId, McpServerProcess.TaskArg("t",
            "@write src/ok.txt fine\n", "@write .github/workflows/evil.yml on: push\n", "@write .husky/pre-commit curl x | sh\n",
            "@symlink src/up ../../outside", "@sleep 300")));
        await s.WaitForRunningTaskAsync(runId);
        await Task.Delay(1000);

        KillServerOf(s.Repository.Path);
        await s.RestartAsync();
        var result = await RecoveredResultAsync(s, runId);

        Assert.Equal("cancelled", result.GetProperty("status").GetString());
        var violations = result.GetProperty("violations").EnumerateArray().Select(v => (v.GetProperty("kind").GetString(), v.GetProperty("path").GetString())).ToList();
        Assert.Contains(("path_not_allowed", ".github/workflows/evil.yml"), violations);
        Assert.Contains(("path_not_allowed", ".husky/pre-commit"), violations);
        Assert.Contains(("symlink_escape", "src/up"), violations);
        Assert.False(result.GetProperty("patch_applicable").GetBoolean());

        var before = s.Repository.Git("status", "--porcelain");
        var apply = await s.Server.CallAsync("apply_codex_result", new() { ["run_id"] = runId, ["task_id"] = "t" });
        Assert.True(apply.IsError);
        Assert.Equal(before, s.Repository.Git("status", "--porcelain"));
        Assert.False(File.Exists(Path.Combine(s.Repository.Path, ".github", "workflows", "evil.yml")));
    }

    [Fact]
    public async Task A_server_killed_at_random_points_loses_no_finished_task_and_every_task_is_judged()
    {
        await using var s = await McpHarness.StartAsync(docker);
        for (var seed = 1; seed <= 10; seed++)
        {
            var random = new Random(seed);
            var runId = McpServerProcess.NewRunId($"chaos{seed}");
            await s.Server.CallOkAsync("start_codex_run", McpServerProcess.Run(runId,
                McpServerProcess.TaskArg("fast", "@write src/fast.txt fast\n", "@message fast"),
                McpServerProcess.TaskArg("failing", "@write src/failing.txt f\n", "@fail on purpose"),
                McpServerProcess.TaskArg("slow", "@write src/slow.txt slow\n", $"@sleep {random.Next(1, 4)}", "@write src/later.txt later\n")));
            await Task.Delay(random.Next(200, 3500));

            KillServerOf(s.Repository.Path);
            await s.RestartAsync();
            var run = await WaitForSettledAsync(s, runId, 3);

            Assert.Contains(run.GetProperty("status").GetString(), (string[])["interrupted", "finished"]);
            foreach (var task in run.GetProperty("tasks").EnumerateArray())
            {
                var id = task.GetProperty("task_id").GetString()!;
                Assert.True(task.TryGetProperty("result", out var result) && result.ValueKind == System.Text.Json.JsonValueKind.Object, $"seed {seed}: {id} has no result");
                Assert.Contains(result.GetProperty("status").GetString(), (string[])["success", "failed", "cancelled"]);
                var files = result.GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()!).ToList();
                if (files.Count > 0)
                {
                    // The work is on its branch, whatever moment the server died at.
                    var branch = result.GetProperty("branch").GetString();
                    Assert.Equal($"sandbox/{runId}/{id}", branch);
                    Assert.All(files, f => Assert.NotEqual("", s.Repository.Git("cat-file", "-t", $"{branch}:{f}").Trim()));
                }

                if (result.GetProperty("status").GetString() == "success")
                {
                    // Success only for work that ran to its end before the kill: the slow task may well finish
                    // first on a quick machine (CI once saw it), but never with its last step missing, and a
                    // task that failed on purpose never succeeds. A task cut short is judged cancelled.
                    Assert.NotEqual("failing", id);
                    if (id == "slow")
                    {
                        Assert.Contains("src/later.txt", files);
                    }
                }
            }

            Assert.False(Directory.Exists(Path.Combine(s.Repository.GitDir, "sandbox-runner", "worktrees", runId)), $"seed {seed}: trees left");
        }
    }

    /// <summary>Recovery runs in the background at start; polls until every task of the run has a result and its trees are gone.</summary>
    private static async Task<System.Text.Json.JsonElement> WaitForSettledAsync(McpHarness s, string runId, int tasks)
    {
        var trees = Path.Combine(s.Repository.GitDir, "sandbox-runner", "worktrees", runId);
        System.Text.Json.JsonElement run = default;
        await Poll.UntilAsync(
            async ct =>
            {
                run = await s.Server.CallOkAsync("get_codex_run", new Dictionary<string, object?> { ["run_id"] = runId }, ct);
                var done = run.GetProperty("tasks").EnumerateArray().Count(t => t.TryGetProperty("result", out var r) && r.ValueKind == System.Text.Json.JsonValueKind.Object);
                return done == tasks && !Directory.Exists(trees);
            },
            TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(60), CancellationToken.None);
        return run;
    }

    private static async Task<System.Text.Json.JsonElement> RecoveredResultAsync(McpHarness s, string runId) =>
        (await WaitForSettledAsync(s, runId, 1)).GetProperty("tasks")[0].GetProperty("result");

    /// <summary>SIGKILL, so the server gets no chance to clean up: what a crash or an impatient client does.</summary>
    private static void KillServerOf(string repoPath)
    {
        foreach (var process in Process.GetProcesses())
        {
            string cmdline;
            try
            {
                cmdline = File.ReadAllText($"/proc/{process.Id}/cmdline").Replace('\0', ' ');
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            if (cmdline.Contains("sandbox-runner", StringComparison.Ordinal) && cmdline.Contains(repoPath, StringComparison.Ordinal))
            {
                process.Kill();
                process.WaitForExit();
            }
        }
    }
}
