using System.Diagnostics;
using SandboxRunner.IntegrationTests.Infrastructure;

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
        var run = await s.Server.CallOkAsync("get_codex_run", new Dictionary<string, object?> { ["run_id"] = runId });
        var trees = Path.Combine(s.Repository.GitDir, "sandbox-runner", "worktrees", runId);
        for (var i = 0; i < 120 && (run.GetProperty("tasks")[0].GetProperty("result").ValueKind == System.Text.Json.JsonValueKind.Null || Directory.Exists(trees)); i++)
        {
            await Task.Delay(250);
            run = await s.Server.CallOkAsync("get_codex_run", new Dictionary<string, object?> { ["run_id"] = runId });
        }

        Assert.Equal("interrupted", run.GetProperty("status").GetString());
        var result = run.GetProperty("tasks")[0].GetProperty("result");
        Assert.Equal("cancelled", result.GetProperty("status").GetString());
        Assert.Equal(["src/kept.txt"], result.GetProperty("files_changed").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal($"sandbox/{runId}/t", result.GetProperty("branch").GetString());
        Assert.Equal("kept by recovery\n", s.Repository.Git("show", $"sandbox/{runId}/t:src/kept.txt"));
        Assert.Empty(await s.Containers.OfRunsAsync([runId]));
        Assert.False(Directory.Exists(Path.Combine(s.Repository.GitDir, "sandbox-runner", "worktrees", runId)));
    }

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
