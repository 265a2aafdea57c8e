using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>
/// <c>run</c> with <c>verify</c> and <c>attempts</c> from a tasks file, as a pipeline uses it: the exit code and
/// the reports carry the verification, <c>show</c> prints it with each command's output, <c>apply --attempt</c>
/// takes the attempt named.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class CliVerificationTests(DockerFixture docker)
{
    /// <summary>A repository whose check passes when src/app.txt says fixed.</summary>
    private static CliHarness Harness(DockerFixture docker)
    {
        var h = CliHarness.Create(docker, """{ "verify": ["sh check.sh"] }""");
        h.Repository.Write("check.sh", "if grep -q fixed src/app.txt; then echo 'check: fixed'; else echo 'check: still broken' >&2; exit 1; fi\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "check");
        return h;
    }

    private static Dictionary<string, object?> Attempts(Dictionary<string, object?> task, int attempts)
    {
        task["attempts"] = attempts;
        return task;
    }

    [Fact]
    public async Task A_failing_verification_fails_the_run_and_the_junit_testcase_carries_the_failing_output_and_the_attempts()
    {
        await using var h = Harness(docker);
        var runId = NewRunId("cli-verify");
        var tasks = h.WriteTasks(Run(runId,
            Attempts(TaskArg("fixed", "@write src/app.txt fixed\\n", "@run 0 echo agent-ran-its-own-check", "@message Fixed."), 2),
            TaskArg("broken", "@write src/app.txt not yet\\n", "@message Fixed, trust me.")));
        var junit = h.FileIn("junit.xml");
        var markdown = h.FileIn("summary.md");

        var run = await h.RunAsync("run", tasks, "--junit", junit, "--markdown", markdown);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Matches(@"(?m)^  broken\s+failed .* verification failed  `sh check.sh` exited 1$", run.Stdout);
        Assert.Matches(@"(?m)^  fixed\s+success .* verification passed  attempt 1 best of 2$", run.Stdout);
        var cases = CliJunitReportTests.Validated(junit).Descendants("testcase").ToDictionary(c => (string)c.Attribute("name")!);
        var broken = cases["broken"];
        var failure = broken.Element("failure")!;
        Assert.Equal("failed: verification failed: `sh check.sh` exited 1", (string?)failure.Attribute("message"));
        Assert.Contains("check: still broken", broken.Element("system-out")!.Value, StringComparison.Ordinal);
        Assert.Equal("failed", Property(broken, "verification"));
        var fixedCase = cases["fixed"];
        Assert.Null(fixedCase.Element("failure"));
        Assert.Equal(("passed", "2", "1"), (Property(fixedCase, "verification"), Property(fixedCase, "attempts"), Property(fixedCase, "best_attempt")));
        Assert.StartsWith("rank 2, success, verification passed", Property(fixedCase, "attempt.2"), StringComparison.Ordinal);
        var summary = File.ReadAllText(markdown);
        Assert.Contains("| ❌ failed |", summary, StringComparison.Ordinal);
        Assert.Contains("verification failed: \\`sh check.sh\\` exited 1 — last line: `check: still broken`", summary, StringComparison.Ordinal);
        Assert.Contains("**Attempts** (best first)", summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_prints_the_agents_commands_with_their_output_then_the_verification_and_the_attempts()
    {
        await using var h = Harness(docker);
        var runId = NewRunId("cli-verify");
        var tasks = h.WriteTasks(Run(runId, Attempts(TaskArg("fix", "@write src/app.txt fixed\\n", "@run 0 echo agent-ran-its-own-check", "@message Fixed."), 2)));
        Assert.True((await h.RunAsync("run", tasks)).ExitCode == 0);

        var show = await h.RunAsync("show", runId, "fix");
        var json = await h.RunAsync("show", runId, "fix", "--json");

        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Contains("$ /bin/bash -lc 'echo agent-ran-its-own-check'  # exit 0\n  │ agent-ran-its-own-check\n", show.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"verification: passed \(\d+\.\d s\)\n  \$ sh check.sh  # passed, exit 0, \d+\.\d s\n    │ check: fixed\n", show.Stdout);
        Assert.Contains("attempts (2, best first; this result is attempt 1's):\n  #1  success  verification passed", show.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("{\"type\":", show.Stdout, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json.Stdout);
        var result = document.RootElement.GetProperty("result");
        Assert.Equal("passed", result.GetProperty("verification").GetProperty("status").GetString());
        Assert.Equal("agent-ran-its-own-check\n", result.GetProperty("commands_run")[0].GetProperty("output_tail").GetString());
    }

    [Fact]
    public async Task Apply_with_attempt_brings_that_attempts_branch_and_refuses_one_the_task_did_not_have()
    {
        await using var h = Harness(docker);
        var runId = NewRunId("cli-verify");
        var tasks = h.WriteTasks(Run(runId, Attempts(TaskArg("fix", "@write src/app.txt fixed\\n", "@message Fixed."), 2)));
        Assert.True((await h.RunAsync("run", tasks)).ExitCode == 0);

        var missing = await h.RunAsync("apply", runId, "fix", "--attempt", "5");
        var applied = await h.RunAsync("apply", runId, "fix", "--attempt", "2");

        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains("attempt: task 'fix' has no finished attempt 5 (its attempts: 1, 2)", missing.Stderr, StringComparison.Ordinal);
        Assert.True(applied.ExitCode == 0, applied.ToString());
        Assert.Contains($"sandbox/{runId}/fix/2", applied.Stdout, StringComparison.Ordinal);
        Assert.Equal("fixed\n", File.ReadAllText(Path.Combine(h.Repository.Path, "src", "app.txt")));
    }

    private static string? Property(System.Xml.Linq.XElement testcase, string name) =>
        testcase.Element("properties")?.Elements("property").SingleOrDefault(p => (string?)p.Attribute("name") == name)?.Attribute("value")?.Value;
}
