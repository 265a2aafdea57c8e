using System.Diagnostics;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>
/// <c>.ci/install</c>, the README's way to the <c>sandbox-runner</c> command: from this checkout, with no package
/// feed, a wrapper on the PATH that runs the published host in any repository. Needs no Docker.
/// </summary>
public sealed class InstallScriptTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sr-install-").FullName;

    [Fact]
    public async Task Install_puts_a_sandbox_runner_on_the_path_that_works_in_another_repository()
    {
        var bin = Path.Combine(_folder, "bin");
        var githubPath = Path.Combine(_folder, "github-path");
        var repository = Path.Combine(_folder, "their-repo");
        Directory.CreateDirectory(repository);
        TestRepository.RunGit(repository, null, "init", "-q");

        var install = await RunAsync("bash", [Path.Combine(RepoRoot.Path, ".ci", "install")], RepoRoot.Path, new() { ["SANDBOX_RUNNER_BIN"] = bin, ["GITHUB_PATH"] = githubPath });
        var wrapper = install.Stdout.Trim();
        var runs = await RunAsync("sandbox-runner", ["runs"], repository, new() { ["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}" });

        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Equal(Path.Combine(bin, "sandbox-runner"), wrapper);
        Assert.Equal($"{bin}\n", File.ReadAllText(githubPath));
        Assert.True(runs.ExitCode == 0, runs.ToString());
        Assert.Contains("no runs in this repository yet", runs.Stdout, StringComparison.Ordinal);
    }

    private static async Task<CliResult> RunAsync(string program, string[] arguments, string directory, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(deadline.Token);
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
