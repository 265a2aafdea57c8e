using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Configuration;

/// <summary>The <c>runtime</c> field, top level and per environment: a runtime's name; whether the engine has it is checked when a run starts.</summary>
public sealed class ConfigRuntimeTests
{
    [Fact]
    public void Absent_it_leaves_the_runtime_to_the_engine()
    {
        Assert.Null(ConfigLoader.Parse("{}").Runtime);
        Assert.Null(Config.One("runtime", "null").Runtime);
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("runsc")]
    [InlineData("runsc-nonet")]
    [InlineData("io.containerd.runc.v2")]
    [InlineData("kata+fc")]
    public void A_runtime_name_is_kept_as_written(string name)
    {
        Assert.Equal(name, Config.One("runtime", $"\"{name}\"").Runtime);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"run sc\"")]
    [InlineData("\"-runsc\"")]
    [InlineData("\"../runsc\"")]
    [InlineData("3")]
    public void Anything_but_a_runtime_name_is_refused_with_the_rule(string value)
    {
        var problem = Config.OnlyProblem("runtime", value);

        Assert.Equal("runtime", problem.Field);
        Assert.Contains(value == "3" ? "must be a string" : "such as \"runc\" or \"runsc\"", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void An_environment_may_name_its_own_runtime()
    {
        var config = ConfigLoader.Parse("""{ "runtime": "runc", "environments": { "node": { "base_image": "node:22", "runtime": "runsc" } } }""");

        Assert.Equal(("runc", "runsc"), (config.Runtime, config.Environments["node"].Runtime));
    }

    [Fact]
    public void An_environments_runtime_is_checked_by_the_same_rule()
    {
        var problem = Config.OnlyProblem("environment", """{ "base_image": "node:22", "runtime": "gvisor please" }""");

        Assert.Equal("environment.runtime", problem.Field);
    }
}
