using System.Text.Json;
using ModelContextProtocol.Protocol;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// review_plan_with_codex with the fake Codex. The fake runs the <c>@</c> lines it finds anywhere in its
/// prompt, so a plan carrying such lines scripts Codex's side of the review.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class McpPlanReviewTests(DockerFixture docker)
{
    private const string Answer =
        """@message {"missing_tasks":["a"],"dependency_issues":[],"parallelization_suggestions":["b","c"],"test_gaps":[],"risk_flags":["d"],"recommended_task_splits":[]}""";

    private const string IncompleteAnswer =
        """@message {"missing_tasks":[],"dependency_issues":[],"parallelization_suggestions":[],"test_gaps":[],"risk_flags":[]}""";

    [Fact]
    public async Task The_review_returns_the_six_lists_codex_answered_with()
    {
        await using var s = await McpHarness.StartAsync(docker);

        var review = await s.Server.CallOkAsync("review_plan_with_codex", new() { ["plan_text"] = $"1. Add a cache.\n{Answer}" });

        var report = review.GetProperty("report");
        Assert.Equal(
            ["dependency_issues", "missing_tasks", "parallelization_suggestions", "recommended_task_splits", "risk_flags", "test_gaps"],
            report.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["a"], Strings(report.GetProperty("missing_tasks")));
        Assert.Equal(["b", "c"], Strings(report.GetProperty("parallelization_suggestions")));
        Assert.Equal(["d"], Strings(report.GetProperty("risk_flags")));
        Assert.Empty(Strings(report.GetProperty("test_gaps")));
        Assert.StartsWith("review-", review.GetProperty("run_id").GetString(), StringComparison.Ordinal);
        Assert.True(review.GetProperty("usage").GetProperty("input_tokens").GetInt64() > 0);
    }

    [Fact]
    public async Task The_plan_and_the_repo_context_reach_codex_inside_its_prompt()
    {
        await using var s = await McpHarness.StartAsync(docker);

        var review = await s.Server.CallOkAsync("review_plan_with_codex", new()
        {
            ["plan_text"] = $"1. Add a cache named PLAN-MARKER-42.\n@run 0 cat /codex-home/prompt.md\n{Answer}",
            ["repo_context"] = "CONTEXT-MARKER-7",
        });

        var result = await StoredResultAsync(s, review);
        var evidence = result.GetProperty("evidence").GetString()!;
        Assert.Contains("<plan>", evidence, StringComparison.Ordinal);
        Assert.Contains("PLAN-MARKER-42", evidence, StringComparison.Ordinal);
        Assert.Contains("CONTEXT-MARKER-7", evidence, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Codex_is_run_with_output_schema_pointing_at_the_schema_of_the_six_lists()
    {
        await using var s = await McpHarness.StartAsync(docker);

        var review = await s.Server.CallOkAsync("review_plan_with_codex", new()
        {
            ["plan_text"] = string.Join('\n',
                "Plan.",
                "@run 0 grep -x -A1 -e 'arg: --output-schema' /codex-home/fake-codex.log",
                "@run 0 grep -o '\"required\":\\[[^]]*\\]' /codex-home/output-schema.json",
                "@run 0 grep -q '\"additionalProperties\":false' /codex-home/output-schema.json",
                Answer),
        });

        var result = await StoredResultAsync(s, review);
        var commands = result.GetProperty("commands_run").EnumerateArray().ToList();
        Assert.Equal(3, commands.Count);
        Assert.All(commands, c => Assert.Equal(0, c.GetProperty("exit_code").GetInt32()));
        var evidence = result.GetProperty("evidence").GetString()!;
        Assert.True(evidence.Contains("arg: --output-schema\narg: /codex-home/output-schema.json", StringComparison.Ordinal), evidence);
        Assert.True(
            evidence.Contains("\"required\":[\"missing_tasks\",\"dependency_issues\",\"parallelization_suggestions\",\"test_gaps\",\"risk_flags\",\"recommended_task_splits\"]", StringComparison.Ordinal),
            evidence);
    }

    [Fact]
    public async Task An_answer_that_is_not_json_is_a_tool_error_saying_so()
    {
        await using var s = await McpHarness.StartAsync(docker);

        var result = await s.Server.CallAsync("review_plan_with_codex", new() { ["plan_text"] = "Plan.\n@message not json" });

        Assert.True(result.IsError);
        var text = McpServerProcess.Text(result);
        Assert.Contains("not JSON", text, StringComparison.Ordinal);
        Assert.Contains("not json", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_missing_one_of_the_lists_is_a_tool_error_naming_it()
    {
        await using var s = await McpHarness.StartAsync(docker);

        var result = await s.Server.CallAsync("review_plan_with_codex", new()
        {
            ["plan_text"] = $"Plan.\n{IncompleteAnswer}",
        });

        Assert.True(result.IsError);
        Assert.Contains("recommended_task_splits", McpServerProcess.Text(result), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n")]
    public async Task An_empty_plan_is_a_tool_error_naming_plan_text(string plan)
    {
        await using var s = await McpHarness.StartAsync(docker);

        var result = await s.Server.CallAsync("review_plan_with_codex", new() { ["plan_text"] = plan });

        Assert.True(result.IsError);
        Assert.Contains("plan_text: must not be empty", McpServerProcess.Text(result), StringComparison.Ordinal);
        Assert.Empty(SandboxContainers.RunIdsOf(s.Repository.Path));
    }

    [Fact]
    public async Task The_review_cannot_change_the_repository_it_reads()
    {
        await using var s = await McpHarness.StartAsync(docker);
        var readme = File.ReadAllText(Path.Combine(s.Repository.Path, "README.md"));

        var review = await s.Server.CallOkAsync("review_plan_with_codex", new()
        {
            ["plan_text"] = $"Plan.\n@write x y\n@write README.md overwritten\n@run * touch /workspace/touched\n{Answer}",
        });

        var result = await StoredResultAsync(s, review);
        Assert.Empty(result.GetProperty("files_changed").EnumerateArray());
        Assert.NotEqual(0, Assert.Single(result.GetProperty("commands_run").EnumerateArray()).GetProperty("exit_code").GetInt32());
        Assert.Equal("", s.Repository.Git("status", "--porcelain"));
        Assert.Equal(readme, File.ReadAllText(Path.Combine(s.Repository.Path, "README.md")));
        Assert.False(File.Exists(Path.Combine(s.Repository.Path, "x")));
    }

    /// <summary>The review task's stored result, found through the run_id the review returned.</summary>
    private static async Task<JsonElement> StoredResultAsync(McpHarness s, JsonElement review)
    {
        var runId = review.GetProperty("run_id").GetString();
        var contents = await s.Server.Client.ReadResourceAsync($"sandbox-runner://runs/{runId}/tasks/review/result");
        using var document = JsonDocument.Parse(Assert.IsType<TextResourceContents>(Assert.Single(contents.Contents)).Text);
        return document.RootElement.Clone();
    }

    private static List<string?> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()).ToList();
}
