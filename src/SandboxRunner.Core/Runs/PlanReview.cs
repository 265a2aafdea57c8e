using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using SandboxRunner.Configuration;
using SandboxRunner.Contract;

namespace SandboxRunner.Runs;

/// <summary>Codex's review of a development plan: the six lists of codex-mcp-runner's report.</summary>
public sealed record PlanReviewReport(
    [property: JsonPropertyName("missing_tasks")] IReadOnlyList<string> MissingTasks,
    [property: JsonPropertyName("dependency_issues")] IReadOnlyList<string> DependencyIssues,
    [property: JsonPropertyName("parallelization_suggestions")] IReadOnlyList<string> ParallelizationSuggestions,
    [property: JsonPropertyName("test_gaps")] IReadOnlyList<string> TestGaps,
    [property: JsonPropertyName("risk_flags")] IReadOnlyList<string> RiskFlags,
    [property: JsonPropertyName("recommended_task_splits")] IReadOnlyList<string> RecommendedTaskSplits);

/// <summary>The arguments of <c>review_plan_with_codex</c>.</summary>
public sealed record PlanReviewRequest
{
    [JsonPropertyName("plan_text"), Required, TextRule(TextKind.NonBlank)]
    [Description("The plan to review.")]
    public string PlanText { get; init; } = "";

    [JsonPropertyName("repo_context")]
    [Description("What the reviewer should know: architecture, stack, constraints.")]
    public string? RepoContext { get; init; }
}

public sealed record PlanReviewResult(
    [property: JsonPropertyName("report")] PlanReviewReport Report,
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("usage")] Codex.CodexUsage Usage);

/// <summary>The review did not produce a report; the message says why (never a report with the error stuffed into it).</summary>
public sealed class PlanReviewFailedException(string message) : Exception(message);

/// <summary>
/// Has Codex review a plan with the repository mounted read-only (the original gave it an empty folder),
/// its final message constrained by <c>--output-schema</c> and then checked against the same schema here.
/// </summary>
public static class PlanReview
{
    public const string TaskId = "review";

    internal static readonly string[] Fields =
        ["missing_tasks", "dependency_issues", "parallelization_suggestions", "test_gaps", "risk_flags", "recommended_task_splits"];

    /// <summary>The JSON Schema handed to Codex: strict structured output needs every field required and nothing else allowed.</summary>
    public static string Schema { get; } = JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["type"] = "object",
        ["additionalProperties"] = false,
        ["required"] = Fields,
        ["properties"] = Fields.ToDictionary(f => f, _ => (object)new Dictionary<string, object>
        {
            ["type"] = "array",
            ["items"] = new Dictionary<string, string> { ["type"] = "string" },
        }),
    });

    public static async Task<PlanReviewResult> ReviewAsync(Runner runner, string planText, string? repoContext, IProgress<TaskProgress>? progress, CancellationToken cancellationToken)
    {
        if (TextRuleAttribute.Check(TextKind.NonBlank, planText) is { } broken)
        {
            throw new InvalidInputException("review_plan_with_codex arguments", "plan_text", broken);
        }

        var run = await runner.RunAsync(
            new RunRequest
            {
                RunId = $"review-{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}",
                Tasks = [new TaskRequest { TaskId = TaskId, Prompt = Prompt(planText, repoContext) }],

                // A review changes nothing, so the repository's verify commands have nothing to check.
                Verify = [],
                SandboxMode = SandboxMode.ReadOnly,
                OutputSchema = Schema,
                AuditCommands = false,
            },
            progress,
            cancellationToken);

        var result = run.Results[0];
        if (result.Status != TaskStatus.Success)
        {
            throw new PlanReviewFailedException($"the review task ended '{result.Status}': {FirstLines(result.NotesForManager)}");
        }

        return new PlanReviewResult(Parse(result.Summary), run.RunId, result.Usage);
    }

    /// <summary>Validates Codex's final message against the schema: an object with exactly the six arrays of strings.</summary>
    public static PlanReviewReport Parse(string message)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(message);
        }
        catch (JsonException e)
        {
            throw new PlanReviewFailedException($"Codex's answer is not JSON ({e.Message}): {Truncate(message)}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new PlanReviewFailedException($"Codex's answer is not a JSON object: {Truncate(message)}");
            }

            var extra = root.EnumerateObject().Select(p => p.Name).Except(Fields).ToList();
            if (extra.Count > 0)
            {
                throw new PlanReviewFailedException($"Codex's answer has fields the schema does not allow: {string.Join(", ", extra)}");
            }

            IReadOnlyList<string> Read(string field)
            {
                if (!root.TryGetProperty(field, out var value) || value.ValueKind != JsonValueKind.Array
                    || value.EnumerateArray().Any(i => i.ValueKind != JsonValueKind.String))
                {
                    throw new PlanReviewFailedException($"Codex's answer lacks '{field}' as an array of strings: {Truncate(message)}");
                }

                return value.EnumerateArray().Select(i => i.GetString()!).ToList();
            }

            return new PlanReviewReport(
                Read("missing_tasks"), Read("dependency_issues"), Read("parallelization_suggestions"),
                Read("test_gaps"), Read("risk_flags"), Read("recommended_task_splits"));
        }
    }

    private static string Prompt(string planText, string? repoContext) => $"""
        Review the development plan below for the repository in the current directory. You may read any
        file and run read-only commands; the repository is mounted read-only, so do not try to change it.

        Report, each as a list of short, concrete sentences (empty when there is nothing to say):
        - missing_tasks: work the plan needs but does not list;
        - dependency_issues: steps ordered before what they depend on, or circular dependencies;
        - parallelization_suggestions: steps that could run in parallel, or must not;
        - test_gaps: behaviour the plan changes without a test;
        - risk_flags: what could break, leak or be hard to undo;
        - recommended_task_splits: steps too large for one agent task, and how to split them.

        Answer with the JSON object only.

        <plan>
        {planText}
        </plan>
        {(string.IsNullOrWhiteSpace(repoContext) ? "" : $"\n<repo_context>\n{repoContext}\n</repo_context>\n")}
        """;

    private static string FirstLines(string text) => Truncate(string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(5)));

    private static string Truncate(string text) => Platform.TextCap.Cap(text, 500);
}
