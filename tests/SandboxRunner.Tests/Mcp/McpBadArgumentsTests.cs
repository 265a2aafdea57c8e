using System.Text.Json;

namespace SandboxRunner.Tests.Mcp;

/// <summary>Each kind of bad argument comes back as a tool error naming the field, with no stack trace, and runs nothing.</summary>
public sealed class McpBadArgumentsTests
{
    private const string OneTask = """{ "task_id": "a", "prompt": "@message a" }""";

    public static TheoryData<string, string, string> Cases { get; } = new()
    {
        { "run_codex_tasks", $$"""{ "resource_policy": "turbo", "tasks": [{{OneTask}}] }""", "resource_policy: must be \"conservative\" or \"normal\"" },
        { "run_codex_tasks", $$"""{ "tasks": [{{OneTask}}, {{OneTask}}] }""", "tasks[1].task_id: 'a' is used by another task of this run" },
        { "run_codex_tasks", """{ "tasks": [{ "task_id": "a", "prompt": "@message a", "timeout_sec": 5 }] }""", "tasks[0].timeout_sec: must be from 10 to 1800 (got 5)" },
        { "run_codex_tasks", """{ "tasks": [] }""", "tasks: must list at least one task" },
        {
            "run_codex_tasks",
            """{ "tasks": [{ "task_id": "a", "prompt": "x" }, { "task_id": "b", "prompt": "x" }, { "task_id": "c", "prompt": "x" }] }""",
            "tasks: may list at most 2 tasks (max_tasks_per_run), got 3"
        },
        { "run_codex_tasks", $$"""{ "base_ref": "--output=/tmp/x", "tasks": [{{OneTask}}] }""", "base_ref: must not start with '-'" },
        { "run_codex_tasks", $$"""{ "base_ref": "no-such-branch", "tasks": [{{OneTask}}] }""", "base_ref: 'no-such-branch' does not name a commit" },
        { "run_codex_tasks", $$"""{ "run_id": "../escape", "tasks": [{{OneTask}}] }""", "run_id: " },
        { "start_codex_run", $$"""{ "concurrency": 0, "tasks": [{{OneTask}}] }""", "concurrency: must be from 1 to 8 (got 0)" },
        { "start_codex_run", """{ "tasks": [{ "task_id": "a", "prompt": "x", "allowed_paths": ["/etc/**"] }] }""", "tasks[0].allowed_paths[0]: must be relative to the repository root" },
        { "apply_codex_result", """{ "run_id": "..", "task_id": "a" }""", "run_id: " },
        { "apply_codex_result", """{ "run_id": "r", "task_id": "../a" }""", "task_id: " },
        { "get_codex_run", """{ "run_id": "never-ran" }""", "run_id: no run 'never-ran'" },
        {
            "run_codex_tasks",
            """{ "tasks": [{ "task_id": "a", "prompt": "x", "environment": "ruby" }] }""",
            "tasks[0].environment: 'ruby' is not an environment of .mcp-codex.json (known: none)"
        },
        { "start_codex_run", $$"""{ "environment": "ruby", "tasks": [{{OneTask}}] }""", "environment: 'ruby' is not an environment of .mcp-codex.json (known: none)" },
        { "run_codex_tasks", $$"""{ "environment": "default", "dry_run": true, "tasks": [{{OneTask}}] }""", "environment: 'default' is not defined; add an `environment` section to .mcp-codex.json" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_argument_is_a_tool_error_naming_the_field_without_a_stack_trace(string tool, string arguments, string expected)
    {
        await using var s = await InProcessServer.StartAsync("""{ "max_tasks_per_run": 2 }""");

        var result = await s.CallAsync(tool, JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(arguments)!
            .ToDictionary(p => p.Key, p => (object?)p.Value));

        Assert.True(result.IsError, InProcessServer.Text(result));
        var text = InProcessServer.Text(result);
        Assert.Contains(expected, text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        Assert.Equal(0, s.Engine.CreatedCount);
        var runs = Path.Combine(s.RepoPath, SandboxRunner.Runs.RunStore.FolderName);
        Assert.False(Directory.Exists(runs) && Directory.EnumerateDirectories(runs).Any(), "a run folder was made");
    }

    [Fact]
    public async Task Every_problem_of_one_call_is_named_in_the_same_error()
    {
        await using var s = await InProcessServer.StartAsync();

        var result = await s.CallAsync("run_codex_tasks", JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(
            """{ "resource_policy": "turbo", "base_ref": "-x", "tasks": [{ "task_id": "a", "prompt": "", "timeout_sec": 5 }] }""")!
            .ToDictionary(p => p.Key, p => (object?)p.Value));

        Assert.True(result.IsError);
        var text = InProcessServer.Text(result);
        foreach (var field in (string[])["resource_policy: ", "base_ref: ", "tasks[0].prompt: ", "tasks[0].timeout_sec: "])
        {
            Assert.Contains(field, text, StringComparison.Ordinal);
        }
    }
}
