using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>The whole path a manager uses: an MCP client, the server process, the real Codex 0.169, the egress proxy, a model.</summary>
[Collection(DockerCollection.Name)]
public sealed class McpRealCodexTests(DockerFixture docker)
{
    [Fact]
    public async Task Run_codex_tasks_drives_the_real_codex_through_the_deny_proxy_to_a_correct_patch()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario(
            "mcp",
            ModelStep.Exec("echo from-codex"),
            ModelStep.ApplyPatch("*** Begin Patch\n*** Add File: src/mcp.txt\n+written through mcp\n*** End Patch"),
            ModelStep.Message("Added src/mcp.txt."));
        await using var s = await McpHarness.StartAsync(docker, RealCodex.DenyConfigJson(model), RealCodex.ServerEnvironment(model));

        var run = await s.Server.CallOkAsync("run_codex_tasks", McpServerProcess.Run(
            McpServerProcess.NewRunId("mcp-real"),
            new Dictionary<string, object?> { ["task_id"] = "real", ["prompt"] = $"Add a file. {ScriptedModelServer.Marker("mcp")}" }));

        var task = run.GetProperty("results")[0];
        Assert.True(task.GetProperty("status").GetString() == "success", task.GetProperty("notes_for_manager").GetString());
        Assert.Equal(["src/mcp.txt"], task.GetProperty("files_changed").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("+written through mcp", task.GetProperty("patch").GetString(), StringComparison.Ordinal);
        Assert.True(task.GetProperty("patch_applicable").GetBoolean());
        Assert.Equal("Added src/mcp.txt.", task.GetProperty("summary").GetString());
        Assert.Equal("deny", task.GetProperty("network").GetProperty("policy").GetString());
        Assert.All(model.RequestsFor("mcp"), r => Assert.Equal($"Bearer {RealCodex.ApiKey}", r.Header("Authorization")));
    }
}
