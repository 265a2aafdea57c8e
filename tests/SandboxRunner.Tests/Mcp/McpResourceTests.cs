using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Mcp.InProcessServer;

namespace SandboxRunner.Tests.Mcp;

/// <summary>
/// The resources' protocol (in process, fake engine): the templates a client lists and the errors for what is not
/// there. That the log, patch and result read back what a real run wrote is McpResourceTests' in the integration suite.
/// </summary>
public sealed class McpResourceTests
{
    [Fact]
    public async Task The_log_patch_and_result_templates_are_listed()
    {
        await using var s = await InProcessServer.StartAsync();

        var templates = await s.Client.ListResourceTemplatesAsync();

        Assert.Equal(
            [
                "sandbox-runner://runs/{run_id}/tasks/{task_id}/log",
                "sandbox-runner://runs/{run_id}/tasks/{task_id}/patch",
                "sandbox-runner://runs/{run_id}/tasks/{task_id}/result",
            ],
            templates.Select(t => t.UriTemplate).Order(StringComparer.Ordinal));
        Assert.All(templates, t => Assert.False(string.IsNullOrWhiteSpace(t.Description), t.UriTemplate));
        Assert.Equal("text/x-diff", Assert.Single(templates, t => t.UriTemplate.EndsWith("/patch", StringComparison.Ordinal)).MimeType);
        Assert.Equal("application/json", Assert.Single(templates, t => t.UriTemplate.EndsWith("/result", StringComparison.Ordinal)).MimeType);
    }

    [Theory]
    [InlineData("sandbox-runner://runs/no-such-run/tasks/edit/result")]
    [InlineData("sandbox-runner://runs/res/tasks/no-such-task/result")]
    [InlineData("sandbox-runner://runs/res/tasks/no-such-task/patch")]
    [InlineData("sandbox-runner://runs/res/tasks/no-such-task/log")]
    public async Task Reading_a_resource_of_an_unknown_run_or_task_is_an_error(string uri)
    {
        await using var s = await InProcessServer.StartAsync();
        s.Engine.Agent = FakeAgents.Writes(("src/added.txt", "added by the task\n"));
        var run = await s.CallOkAsync("run_codex_tasks", Run("res", TaskArg("edit")));
        Assert.Equal("success", run.GetProperty("results")[0].GetProperty("status").GetString());

        var error = await Assert.ThrowsAnyAsync<McpException>(() => s.Client.ReadResourceAsync(uri).AsTask());

        Assert.Contains("no-such-", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reading_a_resource_with_an_invalid_run_id_is_an_error_naming_the_id_rule()
    {
        await using var s = await InProcessServer.StartAsync();

        var error = await Assert.ThrowsAnyAsync<McpException>(() => s.Client.ReadResourceAsync("sandbox-runner://runs/-bad/tasks/x/result").AsTask());

        Assert.Contains("run_id and task_id", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error.Message, StringComparison.Ordinal);
    }
}
