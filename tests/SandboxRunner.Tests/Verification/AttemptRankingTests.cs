using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Verification;

/// <summary>Best of N by facts: verification, success, violations, a change at all, changed inputs, patch size, attempt number.</summary>
public sealed class AttemptRankingTests
{
    private static TaskResult Attempt(
        int k, VerificationStatus verification = VerificationStatus.Passed, TaskStatus status = TaskStatus.Success, int violations = 0,
        int changedInputs = 0, long patchBytes = 100) => new()
    {
        TaskId = "t",
        Attempt = k,
        Status = status,
        PatchBytes = patchBytes,
        FilesChanged = patchBytes > 0 ? ["src/a.txt"] : [],
        Branch = patchBytes > 0 ? $"sandbox/r/t/{k}" : null,
        Summary = $"attempt {k}\nmore",
        Violations = Enumerable.Range(0, violations).Select(i => Violation.ForPath(ViolationKind.PathNotAllowed, $"x{i}", "not allowed")).ToList(),
        Verification = new VerificationReport
        {
            Status = verification,
            Commands = [new VerifyCommandReport("npm test", verification, 0, 10, "")],
            ChangedInputs = Enumerable.Range(0, changedInputs).Select(i => $"test/{i}.js").ToList(),
        },
        Usage = new SandboxRunner.Codex.CodexUsage(10, 0, 0, 5, 0),
        DurationMs = 1000 * k,
    };

    private static IReadOnlyList<int?> Order(params TaskResult[] attempts) => AttemptRanking.Rank(attempts).Select(r => r.Attempt).ToList();

    [Fact]
    public void A_passed_verification_outranks_everything_else()
    {
        Assert.Equal([3, 2, 1], Order(
            Attempt(1, VerificationStatus.Failed, TaskStatus.Failed, patchBytes: 10),
            Attempt(2, VerificationStatus.TimedOut, TaskStatus.Failed, patchBytes: 5),
            Attempt(3, VerificationStatus.Passed, patchBytes: 900)));
    }

    [Fact]
    public void Without_verification_a_success_outranks_a_smaller_failed_patch()
    {
        Assert.Equal([2, 1], Order(
            Attempt(1, VerificationStatus.NotRun, TaskStatus.Timeout, patchBytes: 10),
            Attempt(2, VerificationStatus.NotRun, TaskStatus.Success, patchBytes: 500)));
    }

    [Fact]
    public void No_violations_outranks_fewer_changed_inputs_and_a_smaller_patch()
    {
        Assert.Equal([2, 1], Order(Attempt(1, violations: 1, patchBytes: 10), Attempt(2, changedInputs: 3, patchBytes: 800)));
    }

    [Fact]
    public void An_attempt_that_changed_nothing_ranks_after_one_that_did_the_work_with_tests()
    {
        // Tests already green at the base: the attempt that did nothing passes too, but it did not do the task.
        Assert.Equal([2, 1], Order(Attempt(1, patchBytes: 0), Attempt(2, changedInputs: 2, patchBytes: 4000)));
    }

    [Fact]
    public void No_changed_inputs_outranks_a_smaller_patch()
    {
        Assert.Equal([2, 1], Order(Attempt(1, changedInputs: 1, patchBytes: 10), Attempt(2, patchBytes: 900)));
    }

    [Fact]
    public void The_smaller_patch_then_the_lower_attempt_number_decide_the_rest()
    {
        Assert.Equal([3, 1, 2], Order(Attempt(1, patchBytes: 300), Attempt(2, patchBytes: 300), Attempt(3, patchBytes: 200)));
    }

    [Fact]
    public void The_tasks_result_is_the_best_attempts_with_every_attempt_ranked_and_the_tokens_summed()
    {
        var combined = AttemptRanking.Combine("t", "/runs/r/tasks/t", [Attempt(1, VerificationStatus.Failed, TaskStatus.Failed), Attempt(2), Attempt(3, changedInputs: 1)]);

        Assert.Equal(("t", (int?)null, (int?)2, "sandbox/r/t/2", TaskStatus.Success), (combined.TaskId, combined.Attempt, combined.BestAttempt, combined.Branch, combined.Status));
        Assert.Equal([(2, 1), (3, 2), (1, 3)], combined.Attempts!.Select(a => (a.Attempt, a.Rank)));
        var second = combined.Attempts![1];
        Assert.Equal((TaskStatus.Success, VerificationStatus.Passed, 0, 1, 100L, "attempt 3"), (second.Status, second.VerificationStatus, second.ViolationCount, second.ChangedInputCount, second.PatchBytes, second.Summary));
        Assert.Equal(30, combined.Usage.InputTokens);
        Assert.Equal(3000, combined.DurationMs);
        Assert.Equal("/runs/r/tasks/t", combined.WorkspacePath);
        Assert.StartsWith("attempt 2 of 3 is the best (verification passed, success, 0 violation(s), 0 changed input(s), a 100-byte patch)", combined.NotesForManager, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_a_task_run_with_attempts_carries_attempt_fields_in_its_json()
    {
        using var combined = System.Text.Json.JsonDocument.Parse(System.Text.Json.JsonSerializer.Serialize(AttemptRanking.Combine("t", "/w", [Attempt(1), Attempt(2)])));
        using var attempt = System.Text.Json.JsonDocument.Parse(System.Text.Json.JsonSerializer.Serialize(Attempt(2)));
        using var once = System.Text.Json.JsonDocument.Parse(System.Text.Json.JsonSerializer.Serialize(Attempt(1) with { Attempt = null }));

        Assert.Equal(1, combined.RootElement.GetProperty("best_attempt").GetInt32());
        Assert.False(combined.RootElement.TryGetProperty("attempt", out _));
        var first = combined.RootElement.GetProperty("attempts")[0];
        Assert.Equal(("passed", "success", "sandbox/r/t/1"), (first.GetProperty("verification_status").GetString(), first.GetProperty("status").GetString(), first.GetProperty("branch").GetString()));
        Assert.Equal(2, attempt.RootElement.GetProperty("attempt").GetInt32());
        Assert.False(once.RootElement.TryGetProperty("attempt", out _));
        Assert.False(once.RootElement.TryGetProperty("attempts", out _));
        Assert.False(once.RootElement.TryGetProperty("best_attempt", out _));
        Assert.Equal("passed", once.RootElement.GetProperty("verification").GetProperty("status").GetString());
    }
}
