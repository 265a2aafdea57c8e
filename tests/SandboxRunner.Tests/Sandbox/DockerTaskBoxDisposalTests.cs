using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Sandbox;

public sealed class DockerTaskBoxDisposalTests
{
    [Fact]
    public async Task A_box_whose_removal_fails_is_disposed_without_throwing_and_still_releases_its_place()
    {
        // An engine that never answers: the removal fails as it does when a loaded engine times out.
        using var backend = new DockerBackend(NullLogger.Instance, new EngineConnection(new Uri("unix:///nonexistent/sandbox-runner-test.sock")));
        var released = false;
        var box = new DockerTaskBox(backend, "0123456789ab", null, () =>
        {
            released = true;
            return ValueTask.CompletedTask;
        });

        await box.DisposeAsync();

        Assert.True(released, "the box's network place was not released after its removal failed");
    }
}
