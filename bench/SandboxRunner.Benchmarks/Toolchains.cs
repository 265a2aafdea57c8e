using SandboxRunner.Environments;
using SandboxRunner.Platform;
using SandboxRunner.Configuration;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// A toolchain the <c>toolchains</c> benchmark sets up: a generated repository with real tests, its environment,
/// a base image the benchmark builds itself when the environment names one (null when the repository's
/// Dockerfile is the base), and the agent command that runs the repository's tests.
/// </summary>
internal sealed record Toolchain(
    string Name,
    EnvironmentSpec Environment,
    Func<string, CancellationToken, Task> WriteRepositoryAsync,
    BaseImage? Base,
    string TestCommand,
    string PassedMarker);

/// <summary>A team's own dev image, built by <c>docker build</c> from a folder the benchmark fills.</summary>
internal sealed record BaseImage(string Tag, string Dockerfile, Func<string, CancellationToken, Task> FillContextAsync);

/// <summary>
/// The Python and .NET toolchains as they can be built on a machine without an image registry: Debian's
/// packages (reachable from <c>docker build</c>) and this machine's .NET SDK, trusting the CAs this machine
/// trusts, because its egress inspects TLS and NuGet would otherwise refuse the certificates.
/// </summary>
internal static class Toolchains
{
    public const string HostCaFolder = "/usr/local/share/ca-certificates";
    public const string HostDotnet = "/usr/share/dotnet";
    public const string DotnetBaseTag = "sandbox-runner-bench/dotnet-sdk:local";

    /// <summary>
    /// The session label makes every build of this Dockerfile miss Docker's layer cache, so the cold figure is
    /// a real <c>apt-get</c>. python3-wheel: Debian's setuptools 66 needs it to build the editable wheel
    /// under <c>--no-build-isolation</c> (without it pip fails with "invalid command 'bdist_wheel'").
    /// </summary>
    private static string PythonDockerfile(string session) => $"""
        FROM debian:bookworm-slim
        LABEL sandbox-runner-bench.session={session}
        RUN apt-get update \
            && apt-get install -y --no-install-recommends python3 python3-venv python3-pytest python3-setuptools python3-wheel git ca-certificates \
            && rm -rf /var/lib/apt/lists/*
        COPY ca/ /usr/local/share/ca-certificates/
        RUN update-ca-certificates

        """;

    /// <summary>
    /// The host's SDK copied onto Debian: libicu72 for globalization, the host's CAs for NuGet behind this
    /// machine's TLS inspection, and revocation checks offline because the inspecting CA publishes no CRL.
    /// </summary>
    private const string DotnetDockerfile = """
        FROM debian:bookworm-slim
        RUN apt-get update \
            && apt-get install -y --no-install-recommends git bash ca-certificates libicu72 \
            && rm -rf /var/lib/apt/lists/*
        COPY ca/ /usr/local/share/ca-certificates/
        RUN update-ca-certificates
        COPY dotnet/ /usr/share/dotnet/
        RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
        ENV DOTNET_ROOT=/usr/share/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 NUGET_CERT_REVOCATION_MODE=offline

        """;

    public static Toolchain Python(string session) => new(
        "Python",
        new EnvironmentSpec
        {
            Dockerfile = "env.Dockerfile",
            Setup = ["python3 -m venv --system-site-packages .venv", ".venv/bin/pip install --no-index --no-build-isolation -e ."],

            // No cache_keys: the default manifests (pyproject.toml here) are what setup sees. The editable install
            // points the venv at src/, which the run image fills with the run's checkout.
        },
        (path, cancellationToken) => WritePythonAsync(path, session, cancellationToken),
        null,
        // The venv sees Debian's pytest through --system-site-packages but gets no pytest script of its own.
        ".venv/bin/python -m pytest -q",
        " passed");

    public static Toolchain Dotnet() => new(
        ".NET",
        // No cache_keys: the default manifests (the .slnx and both .csproj here) are what setup sees and what restore reads.
        new EnvironmentSpec { BaseImage = DotnetBaseTag, Setup = ["dotnet restore"] },
        WriteDotnetAsync,
        new BaseImage(DotnetBaseTag, DotnetDockerfile, FillDotnetContextAsync),
        "dotnet test --no-restore",
        "Passed!");

    private static async Task WritePythonAsync(string path, string session, CancellationToken cancellationToken)
    {
        await Repositories.InitAsync(path, cancellationToken);
        Repositories.Write(path, "env.Dockerfile", PythonDockerfile(session));
        CopyHostCas(Path.Combine(path, "ca"));
        Repositories.Write(path, ".gitignore", ".venv/\n__pycache__/\n.pytest_cache/\n*.egg-info/\n");
        Repositories.Write(path, "pyproject.toml", """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "calc"
            version = "0.1.0"
            requires-python = ">=3.9"

            [tool.setuptools.packages.find]
            where = ["src"]

            [tool.pytest.ini_options]
            testpaths = ["tests"]

            """);
        Repositories.Write(path, "src/calc/__init__.py", """
            def add(a, b):
                return a + b


            def mean(values):
                if not values:
                    raise ValueError("mean of nothing")
                return sum(values) / len(values)

            """);
        Repositories.Write(path, "tests/test_calc.py", """
            import pytest

            from calc import add, mean


            def test_add_sums_two_numbers():
                assert add(2, 3) == 5


            def test_mean_of_nothing_is_refused():
                with pytest.raises(ValueError):
                    mean([])

            """);
        await CommitAsync(path, "a python package with pytest tests", cancellationToken);
    }

    private static async Task WriteDotnetAsync(string path, CancellationToken cancellationToken)
    {
        await Repositories.InitAsync(path, cancellationToken);
        Repositories.Write(path, ".gitignore", "bin/\nobj/\n");
        Repositories.Write(path, "Calc.slnx", """
            <Solution>
              <Project Path="src/Calc/Calc.csproj" />
              <Project Path="tests/Calc.Tests/Calc.Tests.csproj" />
            </Solution>

            """);
        Repositories.Write(path, "src/Calc/Calc.csproj", """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
            </Project>

            """);
        Repositories.Write(path, "src/Calc/Arithmetic.cs", """
            namespace Calc;

            public static class Arithmetic
            {
                public static int Add(int a, int b) => a + b;

                public static double Mean(IReadOnlyList<int> values) =>
                    values.Count == 0 ? throw new ArgumentException("mean of nothing", nameof(values)) : values.Average();
            }

            """);
        // Versions this machine's NuGet feed list has (the repository's own test projects use the same).
        Repositories.Write(path, "tests/Calc.Tests/Calc.Tests.csproj", """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <IsPackable>false</IsPackable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Microsoft.NET.Test.Sdk" Version="18.11.0" />
                <PackageReference Include="xunit" Version="2.9.3" />
                <PackageReference Include="xunit.runner.visualstudio" Version="3.1.5" />
              </ItemGroup>
              <ItemGroup>
                <ProjectReference Include="../../src/Calc/Calc.csproj" />
              </ItemGroup>
            </Project>

            """);
        Repositories.Write(path, "tests/Calc.Tests/ArithmeticTests.cs", """
            using Calc;
            using Xunit;

            namespace Calc.Tests;

            public sealed class ArithmeticTests
            {
                [Fact]
                public void Add_sums_two_numbers() => Assert.Equal(5, Arithmetic.Add(2, 3));

                [Fact]
                public void Mean_of_nothing_is_refused() => Assert.Throws<ArgumentException>(() => Arithmetic.Mean([]));
            }

            """);
        await CommitAsync(path, "a .NET library with xunit tests", cancellationToken);
    }

    /// <summary>Hard links of the host's SDK (a copy when the context is on another filesystem) and the host's CAs.</summary>
    private static async Task FillDotnetContextAsync(string context, CancellationToken cancellationToken)
    {
        CopyHostCas(Path.Combine(context, "ca"));
        var target = Path.Combine(context, "dotnet");
        try
        {
            await Shell.RunAsync("cp", ["-al", HostDotnet, target], cancellationToken);
        }
        catch (InvalidOperationException)
        {
            TreeDeletion.Delete(target);
            await Shell.RunAsync("cp", ["-a", HostDotnet, target], cancellationToken);
        }
    }

    private static void CopyHostCas(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "README"), "CA certificates (*.crt) the toolchain image trusts.\n");
        foreach (var ca in Directory.Exists(HostCaFolder) ? Directory.GetFiles(HostCaFolder, "*.crt") : [])
        {
            File.Copy(ca, Path.Combine(folder, Path.GetFileName(ca)), overwrite: true);
        }
    }

    private static async Task CommitAsync(string path, string message, CancellationToken cancellationToken)
    {
        await Shell.GitAsync(path, cancellationToken, "add", "-A");
        await Shell.GitAsync(path, cancellationToken, "commit", "-qm", message);
    }
}
