using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using SandboxRunner.Host.Mcp;
using SandboxRunner.Tests.Fakes;
using static SandboxRunner.Tests.Mcp.InProcessServer;

namespace SandboxRunner.Tests.Mcp;

/// <summary>
/// The tool snapshot a publish writes beside the host (<see cref="ToolSnapshot"/>): a server started with it lists exactly
/// what a server that makes its tools lists, calls and reads go to the tools and resources themselves (arguments checked
/// as ever), and a snapshot of any other build is not used.
/// </summary>
public sealed class ToolSnapshotTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sr-snapshot-").FullName;

    private void WriteSnapshot() => ToolSnapshot.Write(Path.Combine(_folder, ToolSnapshot.FileName), ToolCatalog.Create(), ResourceCatalog.Create());

    [Fact]
    public void A_snapshot_of_this_build_reads_back_as_the_tools_and_resource_templates_it_was_made_from()
    {
        WriteSnapshot();

        var listed = ToolSnapshot.Read(_folder);

        Assert.NotNull(listed);
        Assert.Equal(Json(ToolCatalog.Create().Select(t => t.ProtocolTool)), Json(listed.Tools));
        Assert.Equal(Json(ResourceCatalog.Create().Select(r => r.ProtocolResourceTemplate)), Json(listed.ResourceTemplates));
    }

    [Theory]
    [InlineData("key")]
    [InlineData("tools")]
    [InlineData("resourceTemplates")]
    public void A_snapshot_of_another_build_or_missing_a_list_is_not_used(string field)
    {
        WriteSnapshot();
        var path = Path.Combine(_folder, ToolSnapshot.FileName);
        var snapshot = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        if (field == "key")
        {
            snapshot["key"] = "another build";
        }
        else
        {
            snapshot.Remove(field);
        }

        File.WriteAllText(path, snapshot.ToJsonString());

        Assert.Null(ToolSnapshot.Read(_folder));
    }

    [Fact]
    public void An_unreadable_snapshot_is_not_used()
    {
        File.WriteAllText(Path.Combine(_folder, ToolSnapshot.FileName), "{ not json");

        Assert.Null(ToolSnapshot.Read(_folder));
    }

    [Fact]
    public async Task A_server_started_with_a_snapshot_lists_what_a_server_that_makes_its_tools_lists()
    {
        WriteSnapshot();
        await using var made = await InProcessServer.StartAsync();
        await using var fromSnapshot = await InProcessServer.StartAsync(toolSnapshotFolder: _folder);

        Assert.Equal(Json((await made.Client.ListToolsAsync()).Select(t => t.ProtocolTool)), Json((await fromSnapshot.Client.ListToolsAsync()).Select(t => t.ProtocolTool)));
        Assert.Equal(Json(await made.Client.ListResourceTemplatesAsync()), Json(await fromSnapshot.Client.ListResourceTemplatesAsync()));
    }

    [Fact]
    public async Task A_server_started_with_a_snapshot_checks_a_calls_arguments_as_ever()
    {
        WriteSnapshot();
        await using var s = await InProcessServer.StartAsync(toolSnapshotFolder: _folder);

        var result = await s.CallAsync("get_codex_run", new() { ["run_id"] = "x", ["no_such_field"] = 1 });

        Assert.True(result.IsError, Text(result));
        Assert.Contains("no_such_field", Text(result), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_started_with_a_snapshot_runs_tasks_and_reads_their_resources()
    {
        WriteSnapshot();
        await using var s = await InProcessServer.StartAsync(toolSnapshotFolder: _folder);
        s.Engine.Agent = FakeAgents.Writes(("src/added.txt", "added by the task\n"));

        var run = await s.CallOkAsync("run_codex_tasks", Run("snap", TaskArg("edit")));
        var patch = await s.Client.ReadResourceAsync("sandbox-runner://runs/snap/tasks/edit/patch");
        var missing = await Assert.ThrowsAnyAsync<McpException>(() => s.Client.ReadResourceAsync("sandbox-runner://runs/snap/tasks/no-such-task/result").AsTask());

        Assert.Equal("success", run.GetProperty("results")[0].GetProperty("status").GetString());
        Assert.Contains("added by the task", Assert.IsType<TextResourceContents>(Assert.Single(patch.Contents)).Text, StringComparison.Ordinal);
        Assert.Contains("no-such-task", missing.Message, StringComparison.Ordinal);
    }

    private static string Json<T>(IEnumerable<T> items) => JsonSerializer.Serialize(items.ToList(), McpJsonUtilities.DefaultOptions);

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
