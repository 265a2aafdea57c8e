using System.Diagnostics;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary><c>sandbox-runner run TASKS_FILE</c> reads a run's and a task's <c>environment</c> and refuses an unknown one before anything starts.</summary>
[Collection(DockerCollection.Name)]
public sealed class CliEnvironmentTests(DockerFixture docker)
{
    [Fact]
    public async Task Run_exits_2_when_a_task_of_the_tasks_file_names_an_unknown_environment()
    {
        var (exit, stderr) = await RunAsync("""{ "tasks": [{ "task_id": "a", "prompt": "@message a", "environment": "ruby" }] }""");

        Assert.Equal(2, exit);
        Assert.Contains("tasks[0].environment: 'ruby' is not an environment of .mcp-codex.json (known: none)", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_exits_2_when_the_tasks_file_names_an_unknown_environment_for_the_whole_run()
    {
        var (exit, stderr) = await RunAsync("""{ "environment": "ruby", "tasks": [{ "task_id": "a", "prompt": "@message a" }] }""");

        Assert.Equal(2, exit);
        Assert.Contains("environment: 'ruby' is not an environment of .mcp-codex.json (known: none)", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("is not a known field", stderr, StringComparison.Ordinal);
    }

    /// <summary>Runs the CLI on a fresh repository with <paramref name="tasksFile"/>, then proves it created no run, container, network, task folder or worktree.</summary>
    private async Task<(int Exit, string Stderr)> RunAsync(string tasksFile)
    {
        using var repository = new TestRepository();
        using var containers = new SandboxContainers(docker);
        McpServerProcess.WriteConfig(repository);
        var tasks = Path.Combine(Directory.CreateTempSubdirectory("sr-cli-tasks-").FullName, "tasks.json");
        await File.WriteAllTextAsync(tasks, tasksFile);
        try
        {
            var psi = new ProcessStartInfo("dotnet", [McpServerProcess.ServerDll, "run", tasks, "--repo", repository.Path])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            psi.Environment.Remove("CODEX_API_KEY");
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = await process.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            await stdout;
            await containers.AssertNoneLeftAsync(repository.Path);
            Assert.Empty(SandboxContainers.RunIdsOf(repository.Path));
            var worktrees = Path.Combine(repository.GitDir, "sandbox-runner", "worktrees");
            Assert.False(Directory.Exists(worktrees) && Directory.EnumerateFileSystemEntries(worktrees).Any(), "a task folder was left");
            Assert.Single(repository.Git("worktree", "list", "--porcelain").Split('\n'), l => l.StartsWith("worktree ", StringComparison.Ordinal));
            return (process.ExitCode, stderr);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(tasks)!, recursive: true);
        }
    }
}
