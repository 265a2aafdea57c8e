using SandboxRunner.Testcontainers;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace CodexTasks.Example;

/// <summary>
/// What a team writes to test its agent set-up: each task runs in a hardened container on its own checkout of
/// the fixture repository, and the runner judges it itself (the environment's verify command, the allowed paths).
/// Scripted agents stand in for the model, so the tests run offline and the same every time.
/// </summary>
public sealed class GreetingTaskTests(CodexTaskRunnerFixture fixture) : IClassFixture<CodexTaskRunnerFixture>
{
    [Fact]
    public async Task A_task_that_fixes_the_typo_succeeds_with_its_verification_passed()
    {
        var result = await fixture.Runner.RunAsync(CodexTask.Scripted(
            "fix-typo",
            "Fix the typo in src/greeting.txt.",
            AgentStep.Write("src/greeting.txt", "Hello, world!\n"),
            AgentStep.Run("sh test.sh"),
            AgentStep.Message("Fixed the typo; the tests pass.")));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(VerificationStatus.Passed, result.Verification!.Status);
        Assert.Equal(["src/greeting.txt"], result.FilesChanged);
        Assert.Contains("+Hello, world!", result.Patch, StringComparison.Ordinal);
        Assert.Contains(result.CommandsRun, c => c.Cmd.Contains("sh test.sh", StringComparison.Ordinal) && c.ExitCode == 0);
        Assert.Empty(result.Violations);
    }

    [Fact]
    public async Task A_task_that_breaks_the_tests_is_failed_by_the_verification_whatever_the_agent_says()
    {
        var result = await fixture.Runner.RunAsync(CodexTask.Scripted(
            "break-tests",
            "Make the greeting friendlier.",
            AgentStep.Write("src/greeting.txt", "Hi there!\n"),
            AgentStep.Message("Done, all tests pass.")));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Equal(VerificationStatus.Failed, result.Verification!.Status);
        var check = Assert.Single(result.Verification.Commands);
        Assert.Contains("not ok 1 - greeting", check.OutputTail, StringComparison.Ordinal);
        Assert.Empty(result.Violations);
    }

    [Fact]
    public async Task A_task_that_rewrites_the_tests_outside_its_allowed_paths_is_failed_with_a_violation()
    {
        var result = await fixture.Runner.RunAsync(CodexTask.Scripted(
            "cheat",
            "Make the tests pass.",
            AgentStep.Write("test.sh", "exit 0\n"),
            AgentStep.Message("The tests pass now.")));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Path == "test.sh");
    }
}
