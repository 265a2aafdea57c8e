using SandboxRunner.IntegrationTests.Infrastructure;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary><c>run --markdown FILE</c> and <c>GITHUB_STEP_SUMMARY</c>: the summary a person reads on the pipeline's page.</summary>
[Collection(CliCollection.Name)]
public sealed class CliMarkdownReportTests(DockerFixture docker)
{
    private const string Header = "| task | status | files changed | duration | tokens | violations | verification |";

    [Fact]
    public async Task The_markdown_table_has_a_row_per_task_with_status_files_changed_duration_tokens_and_violations()
    {
        await using var h = CliHarness.Create(docker, """{ "default_allowed_paths": ["src/**"] }""");
        var tasks = h.WriteTasks(Run(NewRunId("cli-md"), TaskArg("two-files", "@write src/a.txt a", "@write src/b.txt b"), TaskArg("stray", "@write docs/x.txt x")));
        var report = h.FileIn("summary.md");

        var run = await h.RunAsync("run", tasks, "--markdown", report);

        Assert.True(run.ExitCode == 1, run.ToString());
        var rows = TableRows(File.ReadAllText(report));
        var good = rows.Single(r => r[0] == "two-files");
        Assert.Equal("✅ success", good[1]);
        Assert.Equal("2", good[2]);
        Assert.Matches(@"^\d+(\.\d)? m?s$", good[3]);
        Assert.Equal("120", good[4]);
        Assert.Equal("0", good[5]);
        var stray = rows.Single(r => r[0] == "stray");
        Assert.Equal("❌ failed", stray[1]);
        Assert.Equal("1", stray[5]);
    }

    [Fact]
    public async Task With_GITHUB_STEP_SUMMARY_set_the_summary_is_appended_after_what_the_file_already_held()
    {
        await using var h = CliHarness.Create(docker);
        var tasks = h.WriteTasks(Run(NewRunId("cli-md"), TaskArg("one", "@write src/a.txt a")));
        var summary = h.FileIn("step-summary.md");
        const string earlier = "## An earlier step\n\nits own summary\n";
        File.WriteAllText(summary, earlier);
        h.Environment["GITHUB_STEP_SUMMARY"] = summary;

        var run = await h.RunAsync("run", tasks);

        Assert.True(run.ExitCode == 0, run.ToString());
        var text = File.ReadAllText(summary);
        Assert.StartsWith(earlier, text, StringComparison.Ordinal);
        Assert.Contains(Header, text[earlier.Length..], StringComparison.Ordinal);
        Assert.Single(TableRows(text));
    }

    /// <summary>The cells of the task table's rows, after its header and separator.</summary>
    private static List<string[]> TableRows(string markdown)
    {
        var lines = markdown.Split('\n');
        var header = Array.IndexOf(lines, Header);
        Assert.True(header >= 0, $"no task table in:\n{markdown}");
        return lines.Skip(header + 2).TakeWhile(l => l.StartsWith('|'))
            .Select(l => l.Trim('|').Split(" | ").Select(c => c.Trim()).ToArray())
            .ToList();
    }
}
