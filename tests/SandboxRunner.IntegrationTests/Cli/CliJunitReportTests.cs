using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;
using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary><c>run --junit FILE</c>: the report CI systems read, checked against the JUnit schema checked in next to these tests.</summary>
[Collection(CliCollection.Name)]
public sealed class CliJunitReportTests(DockerFixture docker)
{
    public static string SchemaPath { get; } = Path.Combine(RepoRoot.Path, "tests", "SandboxRunner.IntegrationTests", "Cli", "junit.xsd");

    [Fact]
    public async Task The_junit_report_is_valid_against_the_junit_schema_with_one_testcase_per_task()
    {
        await using var h = CliHarness.Create(docker);
        var tasks = h.WriteTasks(Run(NewRunId("cli-junit"), TaskArg("writes", "@write src/a.txt a"), TaskArg("fails", "@fail no luck"), TaskArg("idle", "@message nothing to do")));
        var report = h.FileIn("reports/junit.xml");

        var run = await h.RunAsync("run", tasks, "--junit", report);

        Assert.True(run.ExitCode == 1, run.ToString());
        var document = Validated(report);
        var cases = document.Descendants("testcase").ToList();
        Assert.Equal(["writes", "fails", "idle"], cases.Select(c => (string?)c.Attribute("name")));
        Assert.Equal(["fails"], cases.Where(c => c.Element("failure") is not null).Select(c => (string?)c.Attribute("name")));
        var suite = Assert.Single(document.Descendants("testsuite"));
        Assert.Equal("3", (string?)suite.Attribute("tests"));
        Assert.Equal("1", (string?)suite.Attribute("failures"));
    }

    [Fact]
    public async Task A_failed_tasks_testcase_carries_its_notes_and_its_log_tail()
    {
        await using var h = CliHarness.Create(docker);
        var tasks = h.WriteTasks(Run(NewRunId("cli-junit"), TaskArg("fails", "@stderr words-before-the-end", "@fail the model gave up")));
        var report = h.FileIn("junit.xml");

        var run = await h.RunAsync("run", tasks, "--junit", report);

        Assert.True(run.ExitCode == 1, run.ToString());
        var failure = Validated(report).Descendants("failure").Single();
        Assert.Equal("failed", (string?)failure.Attribute("type"));
        var text = failure.Value;
        var notes = text.IndexOf("\nnotes:\n", StringComparison.Ordinal);
        var tail = text.IndexOf("\nlog tail:\n", StringComparison.Ordinal);
        Assert.True(notes >= 0 && tail > notes, $"no notes, then log tail, in the failure:\n{text}");
        Assert.Contains("turn failed: the model gave up", text[notes..tail], StringComparison.Ordinal);
        Assert.Contains("words-before-the-end", text[tail..], StringComparison.Ordinal);
    }

    /// <summary>Loads the report, failing the test with every schema error found.</summary>
    public static XDocument Validated(string path)
    {
        var schemas = new XmlSchemaSet();
        schemas.Add(null, SchemaPath);
        var errors = new List<string>();
        var settings = new XmlReaderSettings { ValidationType = ValidationType.Schema, Schemas = schemas };
        settings.ValidationFlags |= XmlSchemaValidationFlags.ReportValidationWarnings;
        settings.ValidationEventHandler += (_, e) => errors.Add($"{e.Severity} at {e.Exception?.LineNumber}:{e.Exception?.LinePosition}: {e.Message}");
        using var reader = XmlReader.Create(path, settings);
        var document = XDocument.Load(reader);
        Assert.True(errors.Count == 0, $"{path} is not valid JUnit XML:\n{string.Join('\n', errors)}\n{File.ReadAllText(path)}");
        return document;
    }
}
