using SandboxRunner.IntegrationTests.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Verification;

/// <summary>
/// The issue's own case, with the real Codex (scripted model) on a real npm package in a Node environment: the
/// runner runs <c>npm test</c> itself, so a patch that breaks the tests is no longer <c>success</c>, and one that
/// rewrites the test script to <c>exit 0</c> is named in <c>changed_inputs</c>.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class NodeVerificationTests(DockerFixture docker)
{
    private const string AddModule =
        "*** Begin Patch\n*** Add File: lib/sum.js\n+module.exports = (a, b) => a + b;\n*** End Patch";

    private const string BreakTest =
        "*** Begin Patch\n*** Update File: test/semver.test.js\n@@\n-  assert.ok(semver.gt('1.2.3', '1.2.0'));\n+  assert.ok(semver.gt('1.2.0', '1.2.3'));\n*** End Patch";

    private const string SilenceTests =
        "*** Begin Patch\n*** Update File: package.json\n@@\n-  \"scripts\": { \"test\": \"node --test test/\" },\n+  \"scripts\": { \"test\": \"exit 0\" },\n*** End Patch";

    [Fact]
    public async Task Npm_test_run_by_the_runner_passes_a_green_patch_fails_a_red_one_and_names_a_silenced_test_script()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Scenario("green", ModelStep.ApplyPatch(AddModule), ModelStep.Exec("npm test"), ModelStep.Message("Added lib/sum.js; tests pass."));
        model.Scenario("red", ModelStep.ApplyPatch(BreakTest), ModelStep.Message("Done; tests pass."));
        model.Scenario("silenced", ModelStep.ApplyPatch(BreakTest), ModelStep.ApplyPatch(SilenceTests), ModelStep.Exec("npm test"), ModelStep.Message("All tests pass."));
        await using var h = await RealCodex.HarnessAsync(docker, model, c => c with { Environment = NodeToolchainTests.Spec, Verify = ["npm test"] });
        NodeToolchainTests.WriteNodeRepository(h.Repository);

        var results = (await h.RunAsync(
            RunnerHarness.Task("green", "Add a sum module.", ScriptedModelServer.Marker("green")),
            RunnerHarness.Task("red", "Tighten the test.", ScriptedModelServer.Marker("red")),
            RunnerHarness.Task("silenced", "Make the tests pass.", ScriptedModelServer.Marker("silenced")))).Results;

        var green = Assert.Single(results, r => r.TaskId == "green");
        Assert.True(green.Status == TaskStatus.Success, $"{green.Status}: {green.NotesForManager}\n{green.Logs.Stderr}");
        Assert.Equal(VerificationStatus.Passed, green.Verification!.Status);
        Assert.Contains("pass 1", green.Verification.Commands[0].OutputTail, StringComparison.Ordinal);
        Assert.Empty(green.Verification.ChangedInputs);
        Assert.Contains("pass 1", Assert.Single(green.CommandsRun).OutputTail, StringComparison.Ordinal);

        var red = Assert.Single(results, r => r.TaskId == "red");
        Assert.Equal(TaskStatus.Failed, red.Status);
        Assert.Equal(VerificationStatus.Failed, red.Verification!.Status);
        Assert.Contains("fail 1", red.Verification.Commands[0].OutputTail, StringComparison.Ordinal);
        Assert.Contains("verification failed: `npm test` exited 1", red.NotesForManager, StringComparison.Ordinal);
        Assert.Equal(["test/semver.test.js"], red.Verification.ChangedInputs);

        var silenced = Assert.Single(results, r => r.TaskId == "silenced");
        Assert.Equal(VerificationStatus.Passed, silenced.Verification!.Status);
        Assert.Equal(["package.json", "test/semver.test.js"], silenced.Verification.ChangedInputs);
        Assert.Contains("changed what the verify commands depend on: package.json, test/semver.test.js", silenced.NotesForManager, StringComparison.Ordinal);
    }
}
