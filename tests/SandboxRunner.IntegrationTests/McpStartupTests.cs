using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// A server with a bad repository or config still comes up and answers: the client gets the problem as a
/// tool error with the fix, not a dead process it cannot read anything from.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class McpStartupTests(DockerFixture docker)
{
    [Fact]
    public async Task Outside_a_git_repository_the_server_answers_initialize_and_tools_list()
    {
        var folder = NotARepository();
        try
        {
            await using var server = await StartAsync(folder);

            var tools = await server.Client.ListToolsAsync();

            Assert.Equal("sandbox-runner", server.Client.ServerInfo?.Name);
            Assert.Equal(8, tools.Count);
        }
        finally
        {
            Platform.TreeDeletion.Delete(folder);
        }
    }

    [Fact]
    public async Task Outside_a_git_repository_run_codex_tasks_is_a_tool_error_saying_to_pass_repo_or_start_inside_one()
    {
        var folder = NotARepository();
        try
        {
            await using var server = await StartAsync(folder);

            var result = await server.CallAsync("run_codex_tasks", Run("outside", TaskArg("a", "@message a")));

            Assert.True(result.IsError);
            var text = Text(result);
            Assert.Contains("--repo", text, StringComparison.Ordinal);
            Assert.Contains("inside a git repository", text, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(folder, Runs.RunStore.FolderName)));
        }
        finally
        {
            Platform.TreeDeletion.Delete(folder);
        }
    }

    [Fact]
    public async Task Outside_a_git_repository_the_doctor_fails_the_repository_check_with_the_fix()
    {
        var folder = NotARepository();
        try
        {
            await using var server = await StartAsync(folder);

            var report = await server.CallOkAsync("sandbox_doctor");

            var check = Assert.Single(report.GetProperty("checks").EnumerateArray(), c => c.GetProperty("check").GetString() == "repository");
            Assert.Equal("fail", check.GetProperty("status").GetString());
            Assert.Contains("--repo", check.GetProperty("fix").GetString(), StringComparison.Ordinal);
            Assert.False(report.GetProperty("ok").GetBoolean());
        }
        finally
        {
            Platform.TreeDeletion.Delete(folder);
        }
    }

    [Fact]
    public async Task With_an_out_of_range_and_an_unknown_config_field_the_server_answers_tools_list()
    {
        using var repository = new TestRepository();
        WriteRawConfig(repository, """{"default_concurrency": 99, "bogus": 1}""");
        await using var server = await StartAsync(repository.Path);

        var tools = await server.Client.ListToolsAsync();

        Assert.Equal(8, tools.Count);
    }

    [Fact]
    public async Task With_an_out_of_range_and_an_unknown_config_field_run_codex_tasks_is_a_tool_error_naming_both()
    {
        using var repository = new TestRepository();
        WriteRawConfig(repository, """{"default_concurrency": 99, "bogus": 1}""");
        await using var server = await StartAsync(repository.Path);

        var result = await server.CallAsync("run_codex_tasks", Run("badconfig", TaskArg("a", "@message a")));

        Assert.True(result.IsError);
        var text = Text(result);
        Assert.Contains("default_concurrency: must be from 1 to 8 (got 99)", text, StringComparison.Ordinal);
        Assert.Contains("bogus: is not a known field", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.Empty(await LabelledContainersAsync("badconfig"));
    }

    [Fact]
    public async Task A_config_fixed_while_the_server_runs_is_used_by_the_next_call()
    {
        using var repository = new TestRepository();
        WriteRawConfig(repository, """{"bogus": 1}""");
        await using var server = await StartAsync(repository.Path);
        var broken = await server.CallAsync("run_codex_tasks", Run(NewRunId("fixed"), TaskArg("a", "@message a")));

        WriteConfig(repository);
        var runId = NewRunId("fixed");
        var fixedRun = await server.CallAsync("run_codex_tasks", Run(runId, TaskArg("a", "@message a")));

        Assert.True(broken.IsError);
        Assert.NotEqual(true, fixedRun.IsError);
        Assert.Equal("success", Structured(fixedRun).GetProperty("results")[0].GetProperty("status").GetString());
        Assert.Empty(await LabelledContainersAsync(runId));
    }

    [Fact]
    public async Task Initialize_reports_the_version_of_the_sandbox_runner_tool()
    {
        using var repository = new TestRepository();
        WriteConfig(repository);
        await using var server = await StartAsync(repository.Path);

        var version = System.Diagnostics.FileVersionInfo.GetVersionInfo(ServerDll).ProductVersion!.Split('+')[0];

        Assert.Equal(version, server.Client.ServerInfo?.Version);
    }

    private async Task<IReadOnlyList<string>> LabelledContainersAsync(string runId)
    {
        using var containers = new SandboxContainers(docker);
        return await containers.OfRunsAsync([runId]);
    }

    private static string NotARepository()
    {
        var folder = Path.Combine(Path.GetTempPath(), "sr-tests", "not-a-repo-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not under git\n");
        return folder;
    }
}
