using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Containment;

/// <summary>
/// The engine-exposure check probes the host's address on the default bridge. An engine restarted with its bridge
/// interface in place names no gateway in the bridge's IPAM config (this CI machine's dockerd after a reboot); the
/// check then had no address and passed an engine that might answer plain TCP there.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class BridgeGatewayTests(DockerFixture docker)
{
    [Fact]
    public async Task The_runner_finds_the_address_a_container_on_the_default_bridge_routes_through()
    {
        using var client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerFixture.FakeCodexImage,
            Entrypoint = ["sleep", "30"],
            Labels = new Dictionary<string, string> { ["sandbox-runner.test"] = "bridge-gateway" },
            HostConfig = new HostConfig { NetworkMode = "bridge" },
        });
        try
        {
            await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
            var seen = (await client.Containers.InspectContainerAsync(created.ID)).NetworkSettings?.Networks["bridge"].Gateway;

            var found = await docker.Engine.Backend.Networks.BridgeGatewayAsync(CancellationToken.None);

            Assert.False(string.IsNullOrEmpty(seen));
            Assert.Equal(seen, found);
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
        }
    }
}
