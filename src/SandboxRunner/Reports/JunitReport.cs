using System.Globalization;
using System.Text;
using System.Xml;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Host.Reports;

/// <summary>
/// A run as JUnit XML, the format CI systems (GitHub Actions reporters, GitLab, Jenkins) read: one
/// <c>testsuite</c> for the run, one <c>testcase</c> per task. A task that did not succeed is a
/// <c>failure</c> whose type is its status and whose text is its summary, notes, violations and log tail;
/// a dry run's tasks are <c>skipped</c>. Written with <see cref="XmlWriter"/> (which escapes), every field
/// bounded, characters XML cannot carry replaced.
/// </summary>
internal static class JunitReport
{
    private const int MessageChars = 300;
    private const int SummaryChars = 4000;
    private const int NotesChars = 4000;
    private const int TailChars = 8000;
    private const int ViolationsShown = 20;

    public static async Task WriteAsync(RunResult run, string path, CancellationToken cancellationToken)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        await File.WriteAllTextAsync(path, Render(run, DateTimeOffset.UtcNow), new UTF8Encoding(false), cancellationToken);
    }

    public static string Render(RunResult run, DateTimeOffset timestamp)
    {
        var failures = run.Results.Count(Failed);
        var skipped = run.Results.Count(r => r.Status == TaskStatus.Skipped);
        var suite = $"sandbox-runner.{run.RunId}";
        var text = new StringBuilder();
        using (var xml = XmlWriter.Create(text, new XmlWriterSettings { Indent = true, OmitXmlDeclaration = false, Encoding = Encoding.UTF8 }))
        {
            xml.WriteStartDocument();
            xml.WriteStartElement("testsuites");
            xml.WriteAttributeString("name", "sandbox-runner");
            Counts(xml, run.Results.Count, failures, skipped: null, run.TotalDurationMs);
            xml.WriteStartElement("testsuite");
            xml.WriteAttributeString("name", suite);
            Counts(xml, run.Results.Count, failures, skipped, run.TotalDurationMs);
            xml.WriteAttributeString("timestamp", timestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture));
            xml.WriteStartElement("properties");
            Property(xml, "run_id", run.RunId);
            Property(xml, "base_commit", run.BaseCommit);
            xml.WriteEndElement();
            foreach (var result in run.Results)
            {
                Case(xml, suite, result);
            }

            xml.WriteEndElement();
            xml.WriteEndElement();
            xml.WriteEndDocument();
        }

        // StringBuilder output says utf-16 in the declaration; the file is UTF-8.
        return text.ToString().Replace("encoding=\"utf-16\"", "encoding=\"utf-8\"", StringComparison.Ordinal);
    }

    /// <summary>
    /// Failed for a pipeline: any status but success and skipped. A violation fails the task itself, except under
    /// <c>command_policy: audit</c>, where command violations are reported on a task that still succeeded.
    /// </summary>
    public static bool Failed(TaskResult result) =>
        result.Status is not (TaskStatus.Success or TaskStatus.Skipped);

    private static void Case(XmlWriter xml, string suite, TaskResult result)
    {
        xml.WriteStartElement("testcase");
        xml.WriteAttributeString("name", result.TaskId);
        xml.WriteAttributeString("classname", suite);
        xml.WriteAttributeString("time", Seconds(result.DurationMs));
        CaseProperties(xml, result);
        if (result.Status == TaskStatus.Skipped)
        {
            xml.WriteStartElement("skipped");
            xml.WriteAttributeString("message", Safe(ReportText.FirstLine(result.Summary, MessageChars)));
            xml.WriteEndElement();
        }
        else if (Failed(result))
        {
            xml.WriteStartElement("failure");
            xml.WriteAttributeString("type", result.Status.Wire());
            xml.WriteAttributeString("message", Safe($"{result.Status.Wire()}: {ReportText.FirstLine(VerificationFailure(result) ?? result.Summary, MessageChars)}"));
            xml.WriteString(Safe(FailureText(result)));
            xml.WriteEndElement();
        }

        if (result.Status != TaskStatus.Skipped)
        {
            // The verification is the test outcome a CI reader looks for: the verify commands' output tails come first.
            var verification = VerificationText(result);
            xml.WriteElementString("system-out", Safe(verification.Length == 0 ? ReportText.Cap(result.Summary, SummaryChars) : $"{verification}\n\nsummary:\n{ReportText.Cap(result.Summary, SummaryChars)}"));
        }

        xml.WriteEndElement();
    }

    private static string FailureText(TaskResult result)
    {
        var text = new StringBuilder();
        text.Append("status: ").Append(result.Status.Wire());
        if (result.ExitCode is { } code)
        {
            text.Append(" (exit code ").Append(code.ToString(CultureInfo.InvariantCulture)).Append(')');
        }

        text.Append("\n\nsummary:\n").Append(ReportText.Cap(result.Summary, SummaryChars));
        if (result.NotesForManager.Length > 0)
        {
            text.Append("\n\nnotes:\n").Append(ReportText.Cap(result.NotesForManager, NotesChars));
        }

        if (result.Violations.Count > 0)
        {
            text.Append("\n\nviolations:");
            foreach (var violation in result.Violations.Take(ViolationsShown))
            {
                text.Append("\n- ").Append(ReportText.Cap(violation.ToString(), 600));
            }

            var more = result.Violations.Count - ViolationsShown + result.ViolationsOmitted;
            if (more > 0)
            {
                text.Append("\n- … and ").Append(more.ToString(CultureInfo.InvariantCulture)).Append(" more (see result.json)");
            }
        }

        if (VerificationText(result) is { Length: > 0 } verification)
        {
            text.Append("\n\n").Append(verification);
        }

        if (result.Logs.Tail.Length > 0)
        {
            text.Append("\n\nlog tail:\n").Append(ReportText.Cap(result.Logs.Tail, TailChars, keepEnd: true));
        }

        if (result.Branch is not null)
        {
            text.Append("\n\nbranch: ").Append(result.Branch);
        }

        return text.ToString();
    }

    /// <summary>
    /// The testcase's properties (the common JUnit convention pytest, Playwright and test management tools read):
    /// the verification's status and changed inputs, and for a task run with attempts the best one and each one's verdict.
    /// </summary>
    private static void CaseProperties(XmlWriter xml, TaskResult result)
    {
        var v = result.Verification is { Commands.Count: > 0 } verification ? verification : null;
        if (v is null && result.Attempts is null)
        {
            return;
        }

        xml.WriteStartElement("properties");
        if (v is not null)
        {
            Property(xml, "verification", v.Status.Wire());
            Property(xml, "verification.changed_inputs", ReportText.Cap(string.Join(", ", v.ChangedInputs), 2000));
        }

        if (result.Attempts is { } attempts)
        {
            Property(xml, "attempts", attempts.Count.ToString(CultureInfo.InvariantCulture));
            Property(xml, "best_attempt", result.BestAttempt?.ToString(CultureInfo.InvariantCulture) ?? "");
            foreach (var a in attempts.OrderBy(a => a.Attempt))
            {
                Property(xml, $"attempt.{a.Attempt.ToString(CultureInfo.InvariantCulture)}", string.Create(CultureInfo.InvariantCulture,
                    $"rank {a.Rank}, {a.Status.Wire()}, verification {a.VerificationStatus.Wire()}, {a.ViolationCount} violation(s), {a.ChangedInputCount} changed input(s), {a.PatchBytes} patch bytes, {a.Branch ?? "no branch"}"));
            }
        }

        xml.WriteEndElement();
    }

    /// <summary>The verification's verdict when it did not pass, in a line: the failure's message.</summary>
    private static string? VerificationFailure(TaskResult result) =>
        result.Verification is { Commands.Count: > 0, Status: not VerificationStatus.Passed } v ? $"verification {v.Status.Wire()}: {v.Reason}" : null;

    /// <summary>Each verify command with its exit code and the end of its output; empty without verify commands.</summary>
    private static string VerificationText(TaskResult result)
    {
        if (result.Verification is not { Commands.Count: > 0 } v)
        {
            return "";
        }

        var text = new StringBuilder();
        text.Append("verification: ").Append(v.Status.Wire()).Append(v.Reason is null ? "" : $" ({v.Reason})");
        foreach (var c in v.Commands.Where(c => c.Status != VerificationStatus.NotRun))
        {
            text.Append("\n$ ").Append(c.Command).Append("  # ").Append(c.Status.Wire())
                .Append(c.ExitCode is { } code ? $", exit {code.ToString(CultureInfo.InvariantCulture)}" : "").Append('\n')
                .Append(ReportText.Cap(c.OutputTail.TrimEnd(), TailChars, keepEnd: true));
        }

        if (v.ChangedInputs.Count > 0)
        {
            text.Append("\nchanged inputs: ").Append(ReportText.Cap(string.Join(", ", v.ChangedInputs), 2000));
        }

        return text.ToString();
    }

    /// <param name="skipped">Null on <c>testsuites</c>: the Jenkins/Ant schema has no <c>skipped</c> there, and strict readers refuse it.</param>
    private static void Counts(XmlWriter xml, int tests, int failures, int? skipped, long durationMs)
    {
        xml.WriteAttributeString("tests", tests.ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("failures", failures.ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("errors", "0");
        if (skipped is { } count)
        {
            xml.WriteAttributeString("skipped", count.ToString(CultureInfo.InvariantCulture));
        }

        xml.WriteAttributeString("time", Seconds(durationMs));
    }

    private static void Property(XmlWriter xml, string name, string value)
    {
        xml.WriteStartElement("property");
        xml.WriteAttributeString("name", name);
        xml.WriteAttributeString("value", Safe(value));
        xml.WriteEndElement();
    }

    private static string Seconds(long ms) => (ms / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);

    private static string Safe(string text) => ReportText.XmlSafe(text);
}
