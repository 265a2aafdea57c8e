using SandboxRunner.Configuration;
using SandboxRunner.Runs;
using static SandboxRunner.Tests.Runs.RunnerTestBed;

namespace SandboxRunner.Tests.Runs;

/// <summary>The verify and attempts arguments are refused before anything is created, each problem naming its field and rule.</summary>
public sealed class VerifyPlanningTests
{
    private static async Task<string> RefusalAsync(RunRequest request, Func<RunnerConfig, RunnerConfig>? configure = null)
    {
        using var bed = await CreateAsync(configure);
        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(request, CancellationToken.None));
        Assert.Equal(0, bed.Engine.CreatedCount);
        return refusal.Message;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    public async Task Attempts_must_be_from_1_to_8(int attempts)
    {
        var message = await RefusalAsync(new RunRequest { Tasks = [Ask("t") with { Attempts = attempts }] });

        Assert.Contains($"tasks[0].attempts: must be from 1 to 8 (got {attempts})", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_attempt_counts_against_max_tasks_per_run()
    {
        var message = await RefusalAsync(new RunRequest { Tasks = [Ask("a") with { Attempts = 4 }, Ask("b") with { Attempts = 3 }] }, c => c with { MaxTasksPerRun = 6 });

        Assert.Contains("tasks: run 7 sandboxes with their attempts, more than max_tasks_per_run (6); lower attempts or split the run", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_fields_of_the_run_and_of_a_task_are_checked_by_the_configs_rules()
    {
        var message = await RefusalAsync(new RunRequest
        {
            Verify = [" "],
            VerifyTimeoutSec = 5,
            Tasks = [Ask("t") with { VerifyInputs = ["../outside/**"], VerifyTimeoutSec = 4000, Verify = [new string('x', 9000)] }],
        });

        Assert.Contains("verify[0]: must not be empty", message, StringComparison.Ordinal);
        Assert.Contains("verify_timeout_sec: must be from 10 to 3600 (got 5)", message, StringComparison.Ordinal);
        Assert.Contains("tasks[0].verify_inputs[0]: must not contain a '..' segment", message, StringComparison.Ordinal);
        Assert.Contains("tasks[0].verify_timeout_sec: must be from 10 to 3600 (got 4000)", message, StringComparison.Ordinal);
        Assert.Contains("tasks[0].verify[0]: must be at most 8192 bytes", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task More_than_20_verify_commands_are_refused()
    {
        var message = await RefusalAsync(new RunRequest { Tasks = [Ask("t") with { Verify = [.. Enumerable.Repeat("true", 21)] }] });

        Assert.Contains("tasks[0].verify: may list at most 20", message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_config_refuses_a_bad_verify_section_with_field_and_rule()
    {
        var refusal = Assert.Throws<InvalidInputException>(() => ConfigLoader.Parse("""
            { "verify": ["npm test", ""], "verify_timeout_sec": 3601, "verify_inputs": ["/abs"],
              "environment": { "base_image": "node:22", "verify": "npm test" } }
            """));

        Assert.Equal(
            ["environment.verify: must be an array of strings", "verify[1]: must not be empty", "verify_inputs[0]: must be relative to the repository root", "verify_timeout_sec: must be from 10 to 3600 (got 3601)"],
            refusal.Problems.Select(p => $"{p.Field}: {p.Rule}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_environments_verify_is_the_verify_of_its_tasks_unless_the_run_or_the_task_names_its_own()
    {
        var config = ConfigLoader.Parse("""
            { "verify": ["make test"], "verify_timeout_sec": 900,
              "environment": { "base_image": "node:22", "verify": ["npm test"], "verify_inputs": ["spec/**"] } }
            """);

        Assert.Equal(["npm test"], config.Environment!.Verify);
        Assert.Null(config.Environment.VerifyTimeoutSec);
        Assert.Equal(["spec/**"], config.Environment.VerifyInputs);
        Assert.Equal(["make test"], config.Verify);
        Assert.Equal(900, config.VerifyTimeoutSec);
    }
}
