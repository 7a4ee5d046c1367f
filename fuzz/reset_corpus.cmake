# cmake -DSEEDS=DIR -DCORPUS=DIR -P reset_corpus.cmake: CORPUS becomes a fresh copy of SEEDS,
# so that every smoke run starts from the same inputs and the seeds in the tree stay untouched.
file(REMOVE_RECURSE ${CORPUS})
file(MAKE_DIRECTORY ${CORPUS})
file(GLOB seeds ${SEEDS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${CORPUS})
endif()
