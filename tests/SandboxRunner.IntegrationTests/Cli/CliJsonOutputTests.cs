using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary><c>run --json</c>: stdout is the run result <c>run_codex_tasks</c> returns, so a script can read either the same way.</summary>
[Collection(CliCollection.Name)]
public sealed class CliJsonOutputTests(DockerFixture docker)
{
    private static readonly Dictionary<string, object?>[] Tasks =
    [
        TaskArg("edits", "@write src/new.txt new file", "@run 0 echo hello", "@message Wrote src/new.txt."),
        TaskArg("fails", "@warn careful", "@fail gave up"),
    ];

    [Fact]
    public async Task Json_stdout_has_the_shape_and_values_of_what_run_codex_tasks_returns_for_the_same_tasks()
    {
        await using var mcp = await McpHarness.StartAsync(docker, """{ "network_policy": "none" }""");
        var fromTool = await mcp.Server.CallOkAsync("run_codex_tasks", Run(NewRunId("cli-json-mcp"), Tasks));
        await using var h = CliHarness.Create(docker);
        var tasks = h.WriteTasks(Run(NewRunId("cli-json"), Tasks));

        var run = await h.RunAsync("run", tasks, "--json");

        Assert.True(run.ExitCode == 1, run.ToString());
        using var document = JsonDocument.Parse(run.Stdout);
        var fromCli = document.RootElement;
        Assert.Equal(Shape(fromTool), Shape(fromCli));
        Assert.Equal(Tasks.Length, fromCli.GetProperty("results").GetArrayLength());
        for (var i = 0; i < Tasks.Length; i++)
        {
            foreach (var field in new[] { "task_id", "status", "files_changed", "patch", "summary", "usage", "exit_code", "patch_applicable" })
            {
                Assert.Equal(fromTool.GetProperty("results")[i].GetProperty(field).GetRawText(), fromCli.GetProperty("results")[i].GetProperty(field).GetRawText());
            }
        }
    }

    /// <summary>Every field path with its JSON kind (array items merged under <c>[]</c>), sorted: what a reader of the result relies on.</summary>
    private static List<string> Shape(JsonElement root)
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        Walk(root, "$", paths);
        return [.. paths];
    }

    private static void Walk(JsonElement element, string path, SortedSet<string> paths)
    {
        var kind = element.ValueKind is JsonValueKind.True or JsonValueKind.False ? "boolean" : element.ValueKind.ToString().ToLowerInvariant();
        paths.Add($"{path}: {kind}");
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Walk(property.Value, $"{path}.{property.Name}", paths);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, $"{path}[]", paths);
                }

                break;
        }
    }
}
