using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Verification;

/// <summary>
/// Best of N: one prompt run in N sandboxes, each on its own branch, ranked by the runner's own checks. The fake
/// Codex acts the same prompt the same way, so each attempt asks a server on this machine which variant it is:
/// one breaks the tests, one fixes the code, one fixes it and rewrites the test script too.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class AttemptTests(DockerFixture docker)
{
    private const string Pick = """
        #!/bin/bash
        # Asks the test's server which variant this attempt plays (one answer per request).
        exec 3<>"/dev/tcp/$1/$2"
        printf 'GET /next HTTP/1.0\r\nHost: test\r\n\r\n' >&3
        variant=$(tail -n 1 <&3)
        case "$variant" in
          broken) echo broken > src/app.txt ;;
          fixed) echo fixed > src/app.txt ;;
          cheat) echo fixed > src/app.txt; printf 'echo all good; exit 0\n' > test.sh ;;
        esac
        echo "variant $variant"
        """;

    [Fact]
    public async Task Three_attempts_of_which_one_passes_cleanly_are_ranked_with_it_first_and_apply_takes_it()
    {
        string[] variants = ["broken", "fixed", "cheat"];
        await using var server = new HostHttpServer(n => variants[n % variants.Length] + "\n");
        var gateway = await docker.HostGatewayAsync();
        await using var h = await VerificationTests.HarnessAsync(docker, c => c with { NetworkPolicy = NetworkPolicy.Allow, DefaultConcurrency = 3 });
        h.Repository.Write("pick.sh", Pick + "\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "pick");

        var run = await h.RunAsync(new RunRequest
        {
            Concurrency = 3,
            Tasks = [RunnerHarness.Task("fix", $"@run 0 bash pick.sh {gateway} {server.Port}", "@message Fixed.") with { Attempts = 3 }],
        }, CancellationToken.None);

        var result = Assert.Single(run.Results);
        Assert.Equal(3, server.Requests.Count);
        var attempts = result.Attempts!;
        Assert.Equal([1, 2, 3], attempts.Select(a => a.Attempt).Order());
        Assert.Equal([1, 2, 3], attempts.Select(a => a.Rank));
        Assert.Equal(
            [(VerificationStatus.Passed, 0), (VerificationStatus.Passed, 1), (VerificationStatus.Failed, 0)],
            attempts.Select(a => (a.VerificationStatus, a.ChangedInputCount)));
        var best = attempts[0];
        Assert.Equal(best.Attempt, result.BestAttempt);
        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.Equal($"sandbox/{run.RunId}/fix/{best.Attempt}", result.Branch);
        Assert.Equal(["src/app.txt"], result.FilesChanged);
        Assert.Contains($"attempt {best.Attempt} of 3 is the best", result.NotesForManager, StringComparison.Ordinal);

        // Each attempt kept its own branch and result; the task has no branch of its own.
        foreach (var attempt in attempts)
        {
            Assert.Equal($"sandbox/{run.RunId}/fix/{attempt.Attempt}", attempt.Branch);
            var stored = await h.Store.ReadResultAsync(run.RunId, "fix", attempt.Attempt, CancellationToken.None);
            Assert.Equal(attempt.Attempt, stored!.Attempt);
        }

        Assert.Equal("", h.Repository.Git("branch", "--list", $"sandbox/{run.RunId}/fix").Trim());
        Assert.Equal(result.BestAttempt, (await h.Store.ReadResultAsync(run.RunId, "fix", CancellationToken.None))!.BestAttempt);

        var applied = await h.Runner.ApplyAsync(run.RunId, "fix", CancellationToken.None);
        Assert.True(applied.Applied, applied.Message);
        Assert.Equal(result.Branch, applied.Branch);
        Assert.Equal("fixed\n", File.ReadAllText(Path.Combine(h.Repository.Path, "src", "app.txt")));
        Assert.DoesNotContain("exit 0", File.ReadAllText(Path.Combine(h.Repository.Path, "test.sh")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_takes_the_attempt_named_instead_of_the_best()
    {
        string[] variants = ["broken", "fixed"];
        await using var server = new HostHttpServer(n => variants[n % variants.Length] + "\n");
        var gateway = await docker.HostGatewayAsync();
        await using var h = await VerificationTests.HarnessAsync(docker, c => c with { NetworkPolicy = NetworkPolicy.Allow });
        h.Repository.Write("pick.sh", Pick + "\n");
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "pick");

        var run = await h.RunAsync(new RunRequest
        {
            Tasks = [RunnerHarness.Task("fix", $"@run 0 bash pick.sh {gateway} {server.Port}", "@message Done.") with { Attempts = 2 }],
        }, CancellationToken.None);

        var result = Assert.Single(run.Results);
        var worst = result.Attempts![^1];
        Assert.Equal(VerificationStatus.Failed, worst.VerificationStatus);
        var applied = await h.Runner.ApplyAsync(run.RunId, "fix", worst.Attempt, CancellationToken.None);
        Assert.True(applied.Applied, applied.Message);
        Assert.Equal($"sandbox/{run.RunId}/fix/{worst.Attempt}", applied.Branch);
        Assert.Equal("broken\n", File.ReadAllText(Path.Combine(h.Repository.Path, "src", "app.txt")));
    }
}
