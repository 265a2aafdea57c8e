using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;
using SandboxRunner.Host.Reports;
using SandboxRunner.Runs;
using static SandboxRunner.Tests.Reports.ReportRuns;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Reports;

/// <summary>The JUnit report rendered from a run result in memory, checked against the JUnit schema CI readers use.</summary>
public sealed class JunitReportTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 7, 1, 2, 3, TimeSpan.Zero);

    [Fact]
    public void One_testsuite_holds_one_testcase_per_task_in_order_with_the_counts_and_the_run_as_properties()
    {
        var document = Valid(Run(Succeeded("writes"), Failed("fails"), Skipped("idle")));

        var suite = Assert.Single(document.Descendants("testsuite"));
        Assert.Equal("sandbox-runner.r1", (string?)suite.Attribute("name"));
        Assert.Equal(["3", "1", "1", "0", "4.000"], new[] { "tests", "failures", "skipped", "errors", "time" }.Select(a => (string?)suite.Attribute(a)));
        Assert.Equal("2026-12-07T01:02:03", (string?)suite.Attribute("timestamp"));
        Assert.Equal(["writes", "fails", "idle"], document.Descendants("testcase").Select(c => (string?)c.Attribute("name")));
        Assert.Equal(Base, Property(suite, "base_commit"));
        Assert.Equal("r1", Property(suite, "run_id"));
    }

    [Fact]
    public void A_failed_task_is_a_failure_typed_by_its_status_with_its_exit_code_summary_notes_and_log_tail_in_that_order()
    {
        var failure = Assert.Single(Valid(Run(Failed("fails"))).Descendants("failure"));

        Assert.Equal("failed", (string?)failure.Attribute("type"));
        Assert.Equal("failed: Gave up.", (string?)failure.Attribute("message"));
        var text = failure.Value;
        Assert.StartsWith("status: failed (exit code 1)\n\nsummary:\nGave up.\nsecond line", text, StringComparison.Ordinal);
        var notes = text.IndexOf("\n\nnotes:\nturn failed: the model gave up", StringComparison.Ordinal);
        var tail = text.IndexOf("\n\nlog tail:\nwords-before-the-end", StringComparison.Ordinal);
        Assert.True(notes > 0 && tail > notes, text);
    }

    [Fact]
    public void A_failure_lists_twenty_violations_and_says_how_many_more_are_in_result_json()
    {
        var text = Assert.Single(Valid(Run(Failed("leaks", violations: 25) with { ViolationsOmitted = 3 })).Descendants("failure")).Value;

        Assert.Equal(20, text.Split('\n').Count(l => l.StartsWith("- ", StringComparison.Ordinal) && l.Contains("secrets/", StringComparison.Ordinal)));
        Assert.Contains("- … and 8 more (see result.json)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_skipped_task_is_skipped_with_the_first_line_of_its_summary_and_no_output()
    {
        var testcase = Assert.Single(Valid(Run(Skipped("idle"))).Descendants("testcase"));

        Assert.Equal("Dry run: would run.", (string?)Assert.Single(testcase.Elements("skipped")).Attribute("message"));
        Assert.Null(testcase.Element("system-out"));
        Assert.Null(testcase.Element("failure"));
    }

    [Fact]
    public void A_failed_verification_is_the_failures_message_and_its_command_output_comes_first_in_the_output()
    {
        var testcase = Assert.Single(Valid(Run(VerificationFailed("fix"))).Descendants("testcase"));

        Assert.Equal("failed: verification failed: `npm test` exited 1", (string?)testcase.Element("failure")!.Attribute("message"));
        Assert.StartsWith("verification: failed (`npm test` exited 1)\n$ npm test  # failed, exit 1\nok 1\nnot ok 2 adds\nchanged inputs: package.json\n\nsummary:\nWrote it.", testcase.Element("system-out")!.Value, StringComparison.Ordinal);
        Assert.Equal("failed", Property(testcase, "verification"));
        Assert.Equal("package.json", Property(testcase, "verification.changed_inputs"));
    }

    [Fact]
    public void A_task_run_with_attempts_lists_the_best_and_each_attempts_verdict_as_properties()
    {
        var task = Succeeded("slug") with
        {
            BestAttempt = 2,
            Attempts =
            [
                new AttemptSummary(2, 1, TaskStatus.Success, "sandbox/r1/slug/2", SandboxRunner.Verification.VerificationStatus.Passed, 0, 0, 120, "ok"),
                new AttemptSummary(1, 2, TaskStatus.Failed, null, SandboxRunner.Verification.VerificationStatus.Failed, 1, 0, 0, "no"),
            ],
        };

        var testcase = Assert.Single(Valid(Run(task)).Descendants("testcase"));

        Assert.Equal("2", Property(testcase, "attempts"));
        Assert.Equal("2", Property(testcase, "best_attempt"));
        Assert.Equal("rank 2, failed, verification failed, 1 violation(s), 0 changed input(s), 0 patch bytes, no branch", Property(testcase, "attempt.1"));
        Assert.Equal("rank 1, success, verification passed, 0 violation(s), 0 changed input(s), 120 patch bytes, sandbox/r1/slug/2", Property(testcase, "attempt.2"));
    }

    [Fact]
    public void Characters_XML_cannot_carry_from_the_agent_are_replaced_and_the_report_stays_valid()
    {
        var hostile = Failed("fails") with { Summary = "nul\u0000 bell\u0007 lone\ud800 end ]]> </failure>", Logs = new TaskLogs("", "", "esc\u001b[31m", false) };

        var failure = Assert.Single(Valid(Run(hostile)).Descendants("failure"));

        Assert.Contains("]]> </failure>", failure.Value, StringComparison.Ordinal);
        Assert.DoesNotContain('\u0000', failure.Value);
        Assert.DoesNotContain('\u001b', failure.Value);
    }

    [Fact]
    public void Only_success_and_skipped_pass_a_pipeline()
    {
        Assert.Equal(
            [false, false, true, true, true],
            new[] { TaskStatus.Success, TaskStatus.Skipped, TaskStatus.Failed, TaskStatus.Timeout, TaskStatus.Cancelled }
                .Select(s => JunitReport.Failed(new TaskResult { TaskId = "t", Status = s })));
    }

    private static string? Property(XElement owner, string name) =>
        (string?)owner.Element("properties")?.Elements("property").Single(p => (string?)p.Attribute("name") == name).Attribute("value");

    /// <summary>Renders the report and loads it, failing the test with every schema error found.</summary>
    private static XDocument Valid(RunResult run)
    {
        var xml = JunitReport.Render(run, At);
        Assert.StartsWith("<?xml version=\"1.0\" encoding=\"utf-8\"?>", xml, StringComparison.Ordinal);
        var schemas = new XmlSchemaSet();
        schemas.Add(null, Path.Combine(AppContext.BaseDirectory, "Reports", "junit.xsd"));
        var errors = new List<string>();
        var settings = new XmlReaderSettings { ValidationType = ValidationType.Schema, Schemas = schemas };
        settings.ValidationFlags |= XmlSchemaValidationFlags.ReportValidationWarnings;
        settings.ValidationEventHandler += (_, e) => errors.Add($"{e.Severity}: {e.Message}");
        using var reader = XmlReader.Create(new StringReader(xml), settings);
        var document = XDocument.Load(reader);
        Assert.True(errors.Count == 0, $"not valid JUnit XML:\n{string.Join('\n', errors)}\n{xml}");
        return document;
    }
}
