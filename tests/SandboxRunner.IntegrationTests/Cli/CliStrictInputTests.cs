using System.Diagnostics;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using static SandboxRunner.IntegrationTests.Infrastructure.McpServerProcess;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>
/// Strict input (issue 21, breach 7): a key given twice in <c>.mcp-codex.json</c> or a tasks file is refused,
/// naming the key and its path, instead of running with the last value; a tasks file is a regular file of at
/// most 4 MiB, and <c>/dev/zero</c>, a FIFO or a folder each get one line instead of running out of memory or
/// hanging. Each refusal exits 2 and creates nothing; an honest tasks file beside it still runs.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class CliStrictInputTests(DockerFixture docker)
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_config_that_names_its_network_policy_twice_is_refused_and_the_same_config_without_the_repeat_runs()
    {
        await using var h = CliHarness.Create(docker);
        var config = File.ReadAllText(Path.Combine(h.Repository.Path, ".mcp-codex.json"));
        var tasks = h.WriteTasks(Run(NewRunId("dup-config"), TaskArg("t", "@write src/t.txt t\\n")));
        File.WriteAllText(Path.Combine(h.Repository.Path, ".mcp-codex.json"), config.TrimEnd().TrimEnd('}') + ", \"network_policy\": \"deny\" }");

        var refused = await h.RunAsync("run", tasks).WaitAsync(Bound);

        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("$.network_policy: the key \"network_policy\" is given more than once", refused.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(h.Repository.Path, RunStore.FolderName)), "a refused config must create nothing");

        File.WriteAllText(Path.Combine(h.Repository.Path, ".mcp-codex.json"), config);
        var honest = await h.RunAsync("run", tasks).WaitAsync(Bound);
        Assert.True(honest.ExitCode == 0, honest.ToString());
    }

    [Fact]
    public async Task A_task_whose_task_id_is_given_twice_is_refused_naming_its_path()
    {
        await using var h = CliHarness.Create(docker);
        var tasks = h.FileIn("dup.json");
        File.WriteAllText(tasks, """{ "tasks": [ { "task_id": "shown", "prompt": "@write src/a.txt a", "task_id": "hidden" } ] }""");

        var run = await h.RunAsync("run", tasks).WaitAsync(Bound);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("$.tasks[0].task_id: the key \"task_id\" is given more than once", run.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(h.Repository.Path, RunStore.FolderName)), "a refused tasks file must create nothing");
    }

    [Theory]
    [InlineData("/dev/zero", "is a character device, not a regular file")]
    [InlineData("folder", "is a folder")]
    [InlineData("fifo", "is a FIFO, not a regular file")]
    [InlineData("large", "over the 4194304 (4 MiB) a tasks file may have")]
    public async Task A_tasks_file_that_is_not_a_small_regular_file_gets_one_line_and_no_hang(string kind, string expected)
    {
        await using var h = CliHarness.Create(docker);
        var path = kind switch
        {
            "/dev/zero" => kind,
            "folder" => Directory.CreateDirectory(h.FileIn("a-folder")).FullName,
            "fifo" => MakeFifo(h.FileIn("tasks.fifo")),
            _ => LargeFile(h.FileIn("large.json")),
        };

        var run = await h.RunAsync("run", path).WaitAsync(Bound);

        Assert.True(run.ExitCode == 2, run.ToString());
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", line, StringComparison.Ordinal);
    }

    private static string MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path])!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    private static string LargeFile(string path)
    {
        using (var file = File.Create(path))
        {
            file.SetLength(5L * 1024 * 1024);
        }

        return path;
    }
}
