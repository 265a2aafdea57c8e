using System.Text.Json;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>What a dry run says of each task: skipped, validated, and the environment it would run in.</summary>
public sealed class DryRunResultTests
{
    private static readonly TaskPlan Planned = new("a", "do it", ["**"], [], TimeSpan.FromMinutes(5));

    [Fact]
    public void A_skipped_result_names_the_environment_the_task_would_run_in()
    {
        var result = TaskResults.Skipped(Planned with { EnvironmentName = "node", Environment = new EnvironmentSpec { BaseImage = "node:22" } });

        Assert.Equal((TaskStatus.Skipped, "node"), (result.Status, result.Environment));
    }

    [Fact]
    public void A_skipped_result_of_a_task_in_the_plain_codex_image_says_none()
    {
        Assert.Equal(RunnerConfig.NoEnvironment, TaskResults.Skipped(Planned).Environment);
    }

    [Fact]
    public void The_environment_is_one_more_result_field_beside_the_ones_callers_already_read()
    {
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(TaskResults.Skipped(Planned)));
        var fields = json.RootElement.EnumerateObject().Select(p => p.Name).ToList();

        Assert.Contains("environment", fields);
        Assert.Subset(fields.ToHashSet(), new HashSet<string> { "task_id", "status", "summary", "patch_applicable", "auth", "network", "branch" });
    }
}
