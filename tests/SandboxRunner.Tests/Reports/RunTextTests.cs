using System.Text.Json;
using SandboxRunner.Host.Commands;
using SandboxRunner.Host.Reports;
using static SandboxRunner.Tests.Reports.ReportRuns;

namespace SandboxRunner.Tests.Reports;

/// <summary>The run's other outputs, rendered in memory: <c>--json</c> (the MCP tool's own shape) and the summary on stdout.</summary>
public sealed class RunTextTests
{
    [Fact]
    public void The_json_output_has_the_tools_field_names_and_wire_values()
    {
        using var json = JsonDocument.Parse(JsonOutput.Serialize(Run(Succeeded("writes"), Failed("fails"))));

        var root = json.RootElement;
        Assert.Equal("r1", root.GetProperty("run_id").GetString());
        Assert.Equal(Base, root.GetProperty("base_commit").GetString());
        var results = root.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["success", "failed"], results.Select(r => r.GetProperty("status").GetString()));
        Assert.Equal(["src/a.txt"], results[0].GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(0, results[0].GetProperty("exit_code").GetInt32());
        Assert.Equal("turn failed: the model gave up", results[1].GetProperty("notes_for_manager").GetString());
    }

    [Fact]
    public void The_summary_has_a_line_per_task_with_the_failures_reason_and_where_the_results_are()
    {
        var text = Summary.Of(Run(Succeeded("writes"), VerificationFailed("fix"), Failed("fails")));

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("run r1 on 0123456789ab: 1/3 succeeded in 4.0 s", lines[0]);
        Assert.StartsWith("  writes  success       1 file(s)      2.5 s        120 tokens  0 violation(s)", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("verification failed  `npm test` exited 1", lines[2], StringComparison.Ordinal);
        Assert.EndsWith("0 violation(s)  Gave up.", lines[3], StringComparison.Ordinal);
        Assert.Equal("results: .codex-runs/r1/ · branches: sandbox/r1/<task> · `sandbox-runner show r1 TASK` for one task", lines[4]);
    }

    [Fact]
    public void A_task_that_broke_a_policy_shows_its_first_violation_not_what_the_agent_said()
    {
        var text = Summary.Of(Run(Failed("sneaky", violations: 2) with { Summary = "All tests pass, trust me." }));

        var line = text.Split('\n')[1];
        Assert.EndsWith("2 violation(s)  secrets/0.txt: outside allowed_paths", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dry_runs_summary_says_nothing_ran_and_lists_what_would()
    {
        var text = Summary.Of(Run(Skipped("a"), Skipped("bb")));

        Assert.Equal("run r1 on 0123456789ab: dry run, 2 task(s) checked and would run; nothing ran and nothing was written\n  a     would run\n  bb    would run\n", text);
    }
}
