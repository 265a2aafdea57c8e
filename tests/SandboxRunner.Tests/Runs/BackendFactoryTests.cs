using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Configuration;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

public sealed class BackendFactoryTests
{
    [Fact]
    public void No_name_means_the_Docker_backend_over_the_connection_given()
    {
        var connection = new EngineConnection(new Uri("unix:///var/run/other.sock"));

        using var backend = Assert.IsType<DockerBackend>(BackendFactory.Create(null, connection, NullLoggerFactory.Instance));

        Assert.Equal(connection, backend.Connection);
        Assert.Equal("docker", backend.Name);
    }

    [Fact]
    public void An_unknown_backend_is_refused_naming_the_field_and_the_backends_there_are()
    {
        var e = Assert.Throws<InvalidInputException>(() => BackendFactory.Create("kubernetes", null, NullLoggerFactory.Instance));

        Assert.Contains("backend", e.Message, StringComparison.Ordinal);
        Assert.Contains("'kubernetes' is not a backend of this runner; use one of: docker", e.Message, StringComparison.Ordinal);
    }
}
