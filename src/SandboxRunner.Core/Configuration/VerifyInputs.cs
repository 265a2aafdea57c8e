namespace SandboxRunner.Configuration;

/// <summary>
/// The files a verify command's meaning depends on, by default: what a test runner, a build tool or a package
/// manager reads to decide what "the tests" are and how they pass. An agent that changes one of them may have
/// made the check easier rather than the work right (a <c>test</c> script rewritten to <c>exit 0</c>, a deleted
/// test), so a change to one is reported by path; honest work changes them too (it adds tests), so it fails
/// nothing. The list is documented in docs/verification.md; <c>verify_inputs</c> replaces it.
/// </summary>
public static class VerifyInputs
{
    public static IReadOnlyList<string> Defaults { get; } =
    [
        // Node: manifests, lock files, registry and engine settings, test runner and compiler configs.
        "**/package.json", "**/package-lock.json", "**/npm-shrinkwrap.json", "**/yarn.lock", "**/pnpm-lock.yaml", "**/pnpm-workspace.yaml",
        "**/.npmrc", "**/.yarnrc", "**/.yarnrc.yml", "**/.nvmrc", "**/.node-version",
        "**/jest.config.*", "**/jest.setup.*", "**/vitest.config.*", "**/vitest.workspace.*", "**/.mocharc*", "**/karma.conf.*",
        "**/playwright.config.*", "**/cypress.config.*", "**/ava.config.*", "**/babel.config.*", "**/.babelrc*", "**/tsconfig*.json",

        // Tests themselves, in the layouts the common runners find them by.
        "**/test/**", "**/tests/**", "**/__tests__/**", "**/spec/**", "**/testdata/**",
        "**/*.test.*", "**/*.spec.*", "**/test.*", "**/test_*.py", "**/*_test.*", "**/*Tests.cs", "**/*Test.java",

        // Make.
        "**/Makefile", "**/makefile", "**/GNUmakefile", "**/*.mk",

        // Python.
        "**/pytest.ini", "**/tox.ini", "**/setup.cfg", "**/setup.py", "**/conftest.py", "**/pyproject.toml", "**/noxfile.py",
        "**/requirements*.txt", "**/.coveragerc",

        // .NET.
        "**/*.csproj", "**/*.fsproj", "**/*.vbproj", "**/*.sln", "**/Directory.Build.*", "**/Directory.Packages.props", "**/global.json",
        "**/NuGet.Config", "**/nuget.config", "**/*.runsettings", "**/xunit.runner.json",

        // Go, Rust, JVM.
        "**/go.mod", "**/go.sum", "**/Cargo.toml", "**/Cargo.lock", "**/pom.xml", "**/build.gradle*", "**/settings.gradle*", "**/gradle.properties",

        // Variables a test run loads from files.
        "**/.env", "**/.env.*",
    ];
}
